"""A script's first read calls, with keys in the environment and an explicit endpoint, load
neither cattrs nor botocore: responses decode through generated code, and the requests of
reads (strings, numbers, lists of ARNs) are built without cattrs' compiled functions. Both
are for what needs them (nested requests, `to_dict`, profiles), not for every start."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests._env import hermetic_environ

CHILD = textwrap.dedent(
    """
    import asyncio, json, sys

    from aioecs import ECSClient

    async def main():
        async with ECSClient(region="us-east-1", endpoint_url=sys.argv[1]) as ecs:
            listed = await ecs.list_tasks(cluster="c", desired_status="RUNNING")
            described = await ecs.describe_tasks(cluster="c", tasks=listed.task_arns)
            clusters = await ecs.describe_clusters(clusters=["c"])
            streamed = [task async for task in ecs.iter_tasks(cluster="c")]
        return [
            len(listed.task_arns),
            [len(task.containers) > 0 and task.created_at is not None for task in described.tasks],
            [cluster.cluster_name for cluster in clusters.clusters],
            len(streamed),
        ]

    result = asyncio.run(main())
    loaded = [name for name in sys.modules if name.split(".")[0] in ("cattrs", "botocore")]
    print(json.dumps({"result": result, "loaded": sorted(loaded)}))
    """
)


def test_first_read_calls_load_neither_cattrs_nor_botocore(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "aioecs.testing", "--seed-tasks", "3", "--cluster", "c"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())
        env = hermetic_environ(tmp_path)
        env["AWS_ACCESS_KEY_ID"] = info["access_key_id"]
        env["AWS_SECRET_ACCESS_KEY"] = info["secret_access_key"]
        child = subprocess.run(
            [sys.executable, "-c", CHILD, info["endpoint_url"]],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout) == {
        "result": [3, [True, True, True], ["c"], 3],
        "loaded": [],
    }
