"""`aioecs run`, run for real: a subprocess against a LocalECS on the test's loop, its exit
status that of `docker run`."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aioecs.testing import LocalECS

from .test_jobs import CLUSTER, setup


@pytest.fixture
async def local(hermetic_env: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[LocalECS]:
    async with LocalECS(seed=5, missing_seconds=0.2) as server:
        key, secret = server.credentials
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
        monkeypatch.setenv("AWS_REGION", server.region)
        async with server.client() as ecs:
            await setup(ecs)
            for name, env in {
                "fails": [
                    {"name": "AIOECS_EXIT_CODE", "value": "3"},
                    {"name": "AIOECS_RUN_SECONDS", "value": "0"},
                ],
                "nopull": [{"name": "AIOECS_FAIL", "value": "image_pull"}],
                "long": [{"name": "AIOECS_RUN_SECONDS", "value": "600"}],
            }.items():
                await ecs.register_task_definition(
                    family=name,
                    container_definitions=[{"name": "app", "image": "app:1", "environment": env}],
                )
        yield server


async def run(local: LocalECS, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aioecs.cli",
        "run",
        "--cluster",
        CLUSTER,
        *args,
        "--endpoint-url",
        local.endpoint_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ),
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


WAIT = ("--wait", "--poll-interval", "0.05", "--timeout", "30")


async def test_a_job_that_succeeds_exits_0(local: LocalECS) -> None:
    code, out, err = await run(local, "--task-definition", "batch", "--count", "12", *WAIT)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 13
    assert all(
        "  succeeded  app=0 log=143  Essential container in task exited" in ln for ln in lines[:12]
    )
    assert lines[-1] == "job succeeded: 12 of 12 tasks succeeded"
    assert local.request_count["RunTask"] == 2


async def test_a_failed_essential_container_gives_its_exit_code(local: LocalECS) -> None:
    code, out, _ = await run(local, "--task-definition", "fails", *WAIT)
    assert code == 3
    assert "  exited  app=3  Essential container in task exited" in out
    assert out.splitlines()[-1] == "job failed: 0 of 1 tasks succeeded"


async def test_a_task_that_never_started_exits_1(local: LocalECS) -> None:
    code, out, _ = await run(local, "--task-definition", "nopull", *WAIT)
    assert code == 1
    assert "  image_pull  app=-  CannotPullContainerError: " in out


async def test_past_the_timeout_exits_1_naming_the_tasks(local: LocalECS) -> None:
    code, _, err = await run(
        local,
        "--task-definition",
        "long",
        "--wait",
        "--poll-interval",
        "0.05",
        "--timeout",
        "0.3",
        "--count",
        "2",
    )
    assert code == 1
    assert "timed out after 0.3 s with 2 of 2 tasks not stopped" in err


async def test_without_wait_prints_the_task_arns(local: LocalECS) -> None:
    code, out, _ = await run(local, "--task-definition", "batch", "--count", "3")
    assert code == 0
    arns = out.split()
    assert len(arns) == 3 and all(a.startswith("arn:aws:ecs:") for a in arns)


async def test_placement_failures_exit_1_on_stderr(local: LocalECS) -> None:
    async with local.client() as ecs:
        await ecs.create_cluster(cluster_name="empty")
    code, out, err = await run(local, "--task-definition", "batch", "--cluster", "empty")
    assert code == 1 and out == ""
    assert "No Container Instances were found in your cluster." in err


async def test_fargate_with_subnets(local: LocalECS) -> None:
    async with local.client() as ecs:
        await ecs.register_task_definition(
            family="fg",
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            container_definitions=[
                {
                    "name": "app",
                    "image": "app:1",
                    "environment": [{"name": "AIOECS_RUN_SECONDS", "value": "0"}],
                }
            ],
        )
    args = ("--task-definition", "fg", "--launch-type", "FARGATE", *WAIT)
    code, _, err = await run(local, *args)
    assert code == 1 and "Network Configuration must be provided" in err
    code, out, err = await run(local, *args, "--subnet", "subnet-1", "--security-group", "sg-1")
    assert code == 0, err
    assert out.splitlines()[-1] == "job succeeded: 1 of 1 tasks succeeded"
