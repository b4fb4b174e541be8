"""Fan-out, paginators and waiters as a fleet tool uses them; type-checked by `mypy --strict`.

`python examples/fleet.py prod` against your account, or set `AWS_ENDPOINT_URL_ECS`.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter

from aioecs import ECSClient, models
from aioecs.errors import WaiterError


async def main(cluster: str) -> None:
    async with ECSClient() as ecs:
        families: Counter[str] = Counter()
        stream = ecs.iter_tasks(cluster=cluster, desired_status="RUNNING", include=["TAGS"])
        async for task in stream:
            families[(task.group or "-")] += 1
        print(dict(families), f"{len(stream.failures)} vanished while listing")

        every_cluster = [arn async for arn in ecs.paginate_list_clusters().items()]
        page: models.ListServicesResponse
        async for page in ecs.paginate_list_services(cluster=cluster):
            print(len(page.service_arns), "services on a page")
        arns: list[str] = [arn async for arn in ecs.paginate_list_tasks(cluster=cluster).items()]
        print(len(every_cluster), "clusters;", len(arns), "running tasks in", cluster)

        if arns:
            try:
                ready = await ecs.wait_tasks_running(cluster=cluster, tasks=arns[:100], timeout=60)
                print(sum(t.last_status == "RUNNING" for t in ready.tasks), "tasks running")
            except WaiterError as exc:
                print("not running:", exc.reason)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "default"))
