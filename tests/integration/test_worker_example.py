"""examples/worker.py, run as a task of LocalECS would run it: in a process of its own with
nothing but the task's environment. It holds scale-in protection while busy, and on
SIGTERM finishes the job in hand, releases protection and exits."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from aioecs.testing import LocalECS

from .._env import hermetic_environ

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "worker.py"


async def next_line(stream: asyncio.StreamReader) -> str:
    line = await asyncio.wait_for(stream.readline(), 60)
    assert line, "the worker exited early"
    return line.decode().strip()


async def test_worker_protects_itself_while_busy_and_drains_on_sigterm(tmp_path: Path) -> None:
    async with LocalECS() as local:
        (arn,) = local.seed_tasks(cluster="prod", family="worker", service_name="workers")
        env = hermetic_environ(tmp_path) | local.task_environment(arn)
        env["WORKER_JOB_SECONDS"] = "0.5"
        worker = await asyncio.create_subprocess_exec(
            sys.executable, str(EXAMPLE), env=env, stdout=asyncio.subprocess.PIPE
        )
        assert worker.stdout is not None
        try:
            assert await next_line(worker.stdout) == f"worker {arn} (worker:1, service:workers)"
            assert await next_line(worker.stdout) == "job 1: protected"
            async with local.client() as ecs:
                answer = await ecs.get_task_protection(cluster="prod", tasks=[arn])
                assert answer.protected_tasks[0].protection_enabled
                worker.send_signal(signal.SIGTERM)  # halfway through job 1
                rest = (await asyncio.wait_for(worker.stdout.read(), 60)).decode().split("\n")
                assert await asyncio.wait_for(worker.wait(), 60) == 0
                answer = await ecs.get_task_protection(cluster="prod", tasks=[arn])
                assert not answer.protected_tasks[0].protection_enabled
        finally:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
    assert rest == ["job 1: done", "drained", ""]
