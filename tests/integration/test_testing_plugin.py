"""LocalECS outside an async test: on a background thread, through the pytest plugin's fixtures,
and as a process of its own (``python -m aioecs.testing``), each reached by botocore."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from aioecs.testing import Endpoint, Faults, LocalECS

from .._env import hermetic_environ
from ..servers import free_port

pytest_plugins = ["pytester"]  # aioecs.testing.pytest_plugin: conftest.py opts in

NO_RETRIES = Config(retries={"total_max_attempts": 1})


def ecs_client(endpoint: Endpoint) -> Any:
    return boto3.client("ecs", **endpoint.client_kwargs(), config=NO_RETRIES)


def server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "LocalECS"]


# --- LocalECS.in_thread ------------------------------------------------------------------------


def test_in_thread_serves_synchronous_clients() -> None:
    with LocalECS.in_thread(latency_ms=20, seed=1) as local:
        assert isinstance(local, LocalECS) and local.latency_ms == 20
        arns = local.seed_tasks(3, cluster="prod")
        ecs = ecs_client(local.endpoint)
        started = time.perf_counter()
        assert sorted(ecs.list_tasks(cluster="prod")["taskArns"]) == sorted(arns)
        assert time.perf_counter() - started >= 0.020
        assert local.request_count["ListTasks"] == 1
        endpoint = local.endpoint
    assert server_threads() == []
    with pytest.raises(EndpointConnectionError):
        ecs_client(endpoint).list_clusters()


def test_in_thread_start_stop_and_failure_to_listen() -> None:
    server = LocalECS.in_thread()
    local = server.start()
    assert server.start() is local  # idempotent
    port = int(local.endpoint_url.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        LocalECS.in_thread(port=port).start()
    assert len(server_threads()) == 1  # the failed one left no thread behind
    assert "clusterArns" in ecs_client(local.endpoint).list_clusters()
    server.stop()
    server.stop()
    assert server_threads() == []


def test_in_thread_controls_are_safe_while_requests_run() -> None:
    """seed_tasks/stop_task from the test thread while other threads list and describe."""
    with LocalECS.in_thread(seed=2) as local:
        first = local.seed_tasks(200, cluster="busy")
        ecs = ecs_client(local.endpoint)
        done = threading.Event()

        def reader() -> int:
            pages = 0
            while not done.is_set():
                for page in ecs.get_paginator("list_tasks").paginate(cluster="busy"):
                    if page["taskArns"]:
                        ecs.describe_tasks(cluster="busy", tasks=page["taskArns"][:100])
                    pages += 1
            return pages

        with ThreadPoolExecutor(4) as pool:
            readers = [pool.submit(reader) for _ in range(4)]
            for i in range(20):
                local.seed_tasks(50, cluster="busy")
                local.stop_task(first[i])
            done.set()
            assert all(r.result() > 0 for r in readers)
        assert local.task_count("busy") == 1200
        running = ecs.list_tasks(cluster="busy", maxResults=100)
        assert len(running["taskArns"]) == 100


# --- the pytest plugin, used by this module ----------------------------------------------------


async def test_local_ecs_fixture_is_started_on_this_loop(local_ecs: LocalECS) -> None:
    local_ecs.seed_tasks(2)
    async with (
        aiohttp.ClientSession() as session,
        session.post(local_ecs.endpoint_url + "/") as response,
    ):
        assert response.status == 403  # it answers; unsigned requests are refused
    assert local_ecs.request_count["<none>"] == 1


def test_local_ecs_thread_fixture(local_ecs_thread: LocalECS) -> None:
    local_ecs_thread.seed_tasks(4, cluster="sync")
    ecs = ecs_client(local_ecs_thread.endpoint)
    assert len(ecs.list_tasks(cluster="sync")["taskArns"]) == 4


@pytest.mark.local_ecs(faults=Faults(throttle=1.0), region="eu-west-1")
def test_local_ecs_marker_and_endpoint_fixture(local_ecs_endpoint: Endpoint) -> None:
    assert local_ecs_endpoint.region == "eu-west-1"
    with pytest.raises(ClientError) as info:
        ecs_client(local_ecs_endpoint).list_clusters()
    assert info.value.response["Error"]["Code"] == "ThrottlingException"


def test_endpoint_env_points_another_process_at_it(
    local_ecs_endpoint: Endpoint, tmp_path: Path
) -> None:
    """What a test in another language would do: a separate process, configured only by the
    standard AWS environment variables."""
    env = {k: v for k, v in hermetic_environ(tmp_path).items() if k != "BOTO_CONFIG"}
    script = "import boto3; print(boto3.client('ecs').list_clusters()['clusterArns'])"
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env | local_ecs_endpoint.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# --- the pytest plugin, as a user's suite would load it ---------------------------------------

USER_CONFTEST = """
import pytest

pytest_plugins = ["aioecs.testing.pytest_plugin"]


@pytest.fixture
def local_ecs_options():
    return {"latency_ms": 5, "seed": 9}
"""

USER_TESTS = """
import asyncio

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from aioecs.testing import Faults, LocalECS


@pytest.mark.asyncio
async def test_async(local_ecs):
    assert isinstance(local_ecs, LocalECS)
    assert local_ecs.latency_ms == 5
    assert asyncio.get_running_loop() is not None
    arns = local_ecs.seed_tasks(2, cluster="c")
    ecs = boto3.client("ecs", **local_ecs.endpoint.client_kwargs())
    listed = await asyncio.to_thread(ecs.list_tasks, cluster="c")
    assert sorted(listed["taskArns"]) == sorted(arns)


def test_sync(local_ecs_thread):
    assert local_ecs_thread.latency_ms == 5
    local_ecs_thread.seed_tasks(1)
    ecs = boto3.client("ecs", **local_ecs_thread.endpoint.client_kwargs())
    assert len(ecs.list_tasks()["taskArns"]) == 1


@pytest.mark.local_ecs(faults=Faults(server_error=1.0), latency_ms=0)
def test_marker(local_ecs_thread, local_ecs_endpoint):
    assert local_ecs_thread.latency_ms == 0
    assert local_ecs_endpoint == local_ecs_thread.endpoint
    no_retries = Config(retries={"total_max_attempts": 1})
    ecs = boto3.client("ecs", **local_ecs_endpoint.client_kwargs(), config=no_retries)
    with pytest.raises(ClientError) as info:
        ecs.list_clusters()
    assert info.value.response["Error"]["Code"] == "ServerException"


def test_fresh_per_test(local_ecs_thread):
    assert local_ecs_thread.task_count() == 0
"""


def test_plugin_in_a_users_suite_strict_mode(pytester: pytest.Pytester) -> None:
    """pytest-asyncio strict mode, markers checked, the plugin named both on the command line
    and in conftest.py (both ways of opting in at once load it once)."""
    pytester.makeini(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makeconftest(USER_CONFTEST)
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest("-p", "aioecs.testing.pytest_plugin", "--strict-markers")
    result.assert_outcomes(passed=4)
    marker_help = pytester.runpytest("--markers", "-p", "aioecs.testing.pytest_plugin")
    marker_help.stdout.fnmatch_lines(["@pytest.mark.local_ecs(**options): *"])


# --- python -m aioecs.testing ------------------------------------------------------------------


@contextmanager
def runner(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``python -m aioecs.testing ARGS`` and the one line it printed; killed if still running."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "aioecs.testing", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        with ThreadPoolExecutor(1) as pool:
            line = pool.submit(proc.stdout.readline).result(timeout=60)
        yield proc, line
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_python_m_serves_until_signalled(signum: int) -> None:
    port = free_port()
    args = ["--port", str(port), "--seed-tasks", "3", "--cluster", "c", "--latency-ms", "1"]
    with runner(*args) as (proc, line):
        info = json.loads(line)
        assert info == {
            "endpoint_url": f"http://127.0.0.1:{port}",
            "region": "us-east-1",
            "access_key_id": "AKIDLOCALECS",
            "secret_access_key": "local-ecs-secret",
        }
        endpoint = Endpoint(
            info["endpoint_url"],
            info["region"],
            info["access_key_id"],
            info["secret_access_key"],
        )
        ecs = ecs_client(endpoint)
        assert len(ecs.list_tasks(cluster="c")["taskArns"]) == 3  # signed, verified
        with pytest.raises(ClientError) as info_error:
            boto3.client(
                "ecs", **{**endpoint.client_kwargs(), "aws_secret_access_key": "wrong"}
            ).list_tasks(cluster="c")
        assert info_error.value.response["Error"]["Code"] == "InvalidSignatureException"
        proc.send_signal(signum)
        assert proc.wait(timeout=30) == 0
        assert proc.stdout is not None and proc.stdout.read() == ""  # one line, nothing more


def test_python_m_env_format_options_and_faults() -> None:
    args = ["--format", "env", "--no-verify-signatures", "--region", "eu-west-1"]
    with runner(*args, "--faults", "seed=1,throttle=1,operations=ListTasks") as (proc, line):
        env = dict(item.split("=", 1) for item in line.split())
        assert set(env) == {
            "AWS_ENDPOINT_URL_ECS",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
        }
        assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
        ecs = boto3.client(
            "ecs",
            endpoint_url=env["AWS_ENDPOINT_URL_ECS"],
            region_name="eu-west-1",
            aws_access_key_id="anyone",
            aws_secret_access_key="anything",  # not verified
            config=NO_RETRIES,
        )
        assert ecs.list_clusters()["clusterArns"] == []
        with pytest.raises(ClientError) as info:
            ecs.list_tasks()
        assert info.value.response["Error"]["Code"] == "ThrottlingException"
        proc.terminate()
        assert proc.wait(timeout=30) == 0


def test_python_m_reports_a_busy_port_and_bad_arguments() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "aioecs.testing", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1 and result.stdout == ""
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "aioecs.testing", "--faults", "nonsense=1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2 and "bad fault setting" in bad.stderr
