"""Starting a client with keys in the environment and an explicit endpoint: the path of a
container or CI job. botocore (70 modules, a tenth of a second) is for what needs it
(profiles, SSO, container and instance credentials), so this path never imports it."""

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

    import aioecs

    # Importing the package loads nothing else of it: the names load on first use.
    assert sorted(m for m in sys.modules if m.startswith("aioecs")) == ["aioecs"]

    async def main():
        async with aioecs.ECSClient(region="us-east-1", endpoint_url=sys.argv[1]) as ecs:
            listed = await ecs.list_tasks(cluster="c")
            described = await ecs.describe_tasks(cluster="c", tasks=listed.task_arns)
        return len(listed.task_arns), len(described.tasks)

    counts = asyncio.run(main())
    print(json.dumps({
        "counts": counts,
        "botocore": sorted(m for m in sys.modules if m.split(".")[0] == "botocore"),
    }))
    """
)


def test_env_credentials_and_explicit_endpoint_load_no_botocore(tmp_path: Path) -> None:
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
    result = json.loads(child.stdout)
    assert result == {"counts": [3, 3], "botocore": []}
