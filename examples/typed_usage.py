"""The foundation's promise, type-checked by `mypy --strict` in the test suite.

Run it against AWS (credentials and region from the usual places), or against any endpoint:
`AWS_ENDPOINT_URL_ECS=http://127.0.0.1:4566 python examples/typed_usage.py`. It only reads
(ListTasks, DescribeTasks) unless given `--start`: then it also starts a task (StartTask),
which on AWS runs - and bills - a real task.
"""

from __future__ import annotations

import argparse
import asyncio

from aioecs import ECSClient, models
from aioecs.errors import ClusterNotFoundException


async def main(cluster: str = "prod", *, start: bool = False) -> None:
    async with ECSClient(region="us-east-1") as ecs:
        try:
            page = await ecs.list_tasks(cluster=cluster, desired_status="RUNNING", max_results=100)
        except ClusterNotFoundException as exc:
            print(f"no cluster {cluster!r}: {exc.message} (request id {exc.request_id})")
            return
        if page.task_arns:
            out = await ecs.describe_tasks(cluster=cluster, tasks=page.task_arns, include=["TAGS"])
            for task in out.tasks:
                created = task.created_at.isoformat() if task.created_at else "-"
                print(task.task_arn, task.last_status, created)
            for failure in out.failures:
                print("failed:", failure.arn, failure.reason)
        if not start:
            return
        started: models.StartTaskResponse = await ecs.start_task(
            cluster=cluster,
            task_definition="hello_world:6",
            container_instances=["4c543eed-f83f-47da-b1d8-3d23f1da4c64"],
            overrides={"container_overrides": [{"name": "web", "command": ["run"]}]},
        )
        print([task.task_arn for task in started.tasks])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="List the running tasks of cluster prod.")
    parser.add_argument("--start", action="store_true", help="also start a task (StartTask)")
    asyncio.run(main(start=parser.parse_args().start))
