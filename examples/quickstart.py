"""The main job: every task of a fleet, typed, as fast as the ECS API allows.

With an AWS account configured (credentials and a region, found the way the AWS CLI finds
them) it reads every task of every cluster in your region; nothing is changed. Without one, it
starts the embedded emulator (`aioecs.testing.LocalECS`, 20 ms per request like a nearby
region), seeds a fleet, and runs the same job against it.
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import time
from collections import Counter

from aioecs import Credentials, ECSClient
from aioecs.testing import LocalECS

TASKS = int(os.environ.get("AIOECS_DEMO_TASKS", "2000"))
LATENCY_MS = 20.0


def _aws_configured() -> bool:
    """Credentials and a region from the environment or the shared files. The EC2 and
    container metadata endpoints are not probed: this check must be instant everywhere."""
    import botocore.session

    session = botocore.session.get_session()
    resolver = session.get_component("credential_provider")
    for provider in ("iam-role", "container-role"):
        resolver.remove(provider)
    return bool(session.get_config_variable("region")) and resolver.load_credentials() is not None


async def fan_out(ecs: ECSClient, clusters: str | list[str]) -> None:
    started = time.perf_counter()
    by_status: Counter[tuple[str, str]] = Counter()
    stream = ecs.iter_tasks(clusters=clusters)
    async for task in stream:
        by_status[(task.last_status or "?", (task.group or "?"))] += 1
    elapsed = time.perf_counter() - started
    total = sum(by_status.values())
    print(f"{total} tasks in {elapsed:.2f} s ({total / elapsed:,.0f} tasks/s)")
    for (status, group), count in by_status.most_common(10):
        print(f"  {count:6d}  {status:8s} {group}")
    if stream.failures:
        print(f"  {len(stream.failures)} tasks vanished between ListTasks and DescribeTasks")
    if not isinstance(clusters, str):
        floor = (math.ceil(total / 100) + 1) * LATENCY_MS / 1000
        print(f"latency floor {floor:.2f} s -> {elapsed / floor:.2f} x floor")


async def main() -> None:
    if _aws_configured():
        print("Using your AWS account (read-only: ListClusters, ListTasks, DescribeTasks).")
        async with ECSClient() as ecs:
            await fan_out(ecs, "*")
        return
    print(f"No AWS account configured: local emulator, {TASKS} tasks, {LATENCY_MS:.0f} ms/request.")
    async with LocalECS(latency_ms=LATENCY_MS) as local:
        local.seed_tasks(TASKS * 3 // 4, cluster="prod", family="web", service_name="web")
        local.seed_tasks(TASKS - TASKS * 3 // 4, cluster="prod", family="worker")
        key, secret = local.credentials
        credentials = Credentials(access_key_id=key, secret_access_key=secret)
        async with ECSClient(
            region=local.region, endpoint_url=local.endpoint_url, credentials=credentials
        ) as ecs:
            await fan_out(ecs, ["prod"])


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
