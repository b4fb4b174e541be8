"""A queue worker that runs as an ECS service task; type-checked by `mypy --strict`.

While it works on a job it holds scale-in protection, so a scale-in picks idle tasks; on
SIGTERM (ECS stopping the task) it finishes the job in hand, takes no new one and exits
before the stop timeout's SIGKILL. Replace `receive` and `handle` with your queue and your
work. Run it in an ECS task, or against LocalECS (`LocalECS.task_environment`), as
tests/integration/test_worker_example.py does: `python examples/worker.py 10`.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
from datetime import timedelta

import aioecs
from aioecs import ECSClient

JOB_SECONDS = float(os.environ.get("WORKER_JOB_SECONDS", "1"))
_numbers = itertools.count(1)


async def receive() -> int:
    """The next job: here a number after a short wait; in real life an SQS message."""
    await asyncio.sleep(0.01)
    return next(_numbers)


async def handle(job: int) -> None:
    """The work: long enough that being scaled in halfway would lose it."""
    await asyncio.sleep(JOB_SECONDS)


async def next_job(stopping: asyncio.Event) -> int | None:
    """The next job, or None once SIGTERM came first."""
    receiving = asyncio.ensure_future(receive())
    stopped = asyncio.ensure_future(stopping.wait())
    await asyncio.wait({receiving, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if stopping.is_set():
        receiving.cancel()
        return None
    return receiving.result()


async def main(max_jobs: int) -> None:
    task = await aioecs.task_metadata()
    # The task role's credentials come from the container credentials endpoint.
    async with ECSClient() as ecs:
        (me,) = (await ecs.describe_tasks(cluster=task.cluster, tasks=[task.task_arn])).tasks
    print(f"worker {task.task_arn} ({task.family}:{task.revision}, {me.group})", flush=True)

    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    for _ in range(max_jobs):
        job = await next_job(stopping)
        if job is None:
            break
        async with aioecs.protect_task(expires_in=timedelta(minutes=10)):
            print(f"job {job}: protected", flush=True)
            await handle(job)
        print(f"job {job}: done", flush=True)
    print("drained", flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000))
