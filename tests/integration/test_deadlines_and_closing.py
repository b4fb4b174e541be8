"""Deadlines, `close()` and cancellation when the network hangs: against loopback servers that
never answer, stall mid-body, throttle forever or close the connection, and LocalECS.

Every test here is run a second time in a subprocess with ResourceWarning as an error
(`test_every_lifecycle_test_leaves_no_resource_behind`): nothing may leak a socket, a
session or a task.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aioecs import AttemptEvent, CallEvent, ECSClient, HttpRequest, HttpResponse, MockTransport
from aioecs.errors import (
    ClientClosedError,
    DeadlineExceeded,
    LimitExceededException,
    ThrottlingException,
    TransportError,
)
from aioecs.testing import Faults, LocalECS

from ..loopback import (
    closes_the_connection,
    loopback,
    never_answers,
    stalls_mid_body,
    throttles,
)
from ..servers import client_for


class Recorder:
    def __init__(self) -> None:
        self.attempts: list[AttemptEvent] = []
        self.calls: list[CallEvent] = []

    def on_attempt(self, event: AttemptEvent) -> None:
        self.attempts.append(event)

    def on_call(self, event: CallEvent) -> None:
        self.calls.append(event)


@pytest.fixture
async def local() -> AsyncIterator[LocalECS]:
    async with LocalECS(seed=7) as server:
        yield server


async def _until(condition: object, what: str) -> None:
    for _ in range(2000):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never happened: {what}")


# -- deadlines ---------------------------------------------------------------------------------


async def test_total_timeout_cuts_the_attempt_in_flight() -> None:
    # Each attempt may take 0.5 s and a retry follows: without a hard deadline, the call
    # would end with the attempts' Timeout after 2 attempts, past total_timeout.
    async with loopback(never_answers) as server:
        hooks = Recorder()
        async with server.client(timeout=0.5, total_timeout=0.3, hooks=[hooks]) as ecs:
            with pytest.raises(DeadlineExceeded) as caught:
                await ecs.list_clusters()
    error = caught.value
    assert isinstance(error, TimeoutError) and isinstance(error, TransportError)
    assert (error.limit, error.seconds, error.sent) == ("total_timeout", 0.3, True)
    assert error.code == "DeadlineExceeded"
    assert "ListClusters: total_timeout of 0.3 s reached (1 attempt)" in str(error)
    assert server.requests == 1
    assert [call.error_code for call in hooks.calls] == ["DeadlineExceeded"]


async def test_a_body_that_stalls_midway_is_cut_at_the_deadline() -> None:
    async with loopback(stalls_mid_body) as server:
        ecs = server.client(read_timeout=30, total_timeout=0.3)
        async with ecs:
            with pytest.raises(DeadlineExceeded, match="total_timeout"):
                await ecs.list_clusters()
    assert server.requests == 1


async def test_a_streams_deadline_is_named_in_its_error() -> None:
    async with loopback(never_answers) as server, server.client() as ecs:
        stream = ecs.iter_tasks(cluster="prod", deadline=0.3)
        with pytest.raises(DeadlineExceeded) as caught:
            async for _ in stream:
                pass
    assert caught.value.limit == "deadline"
    assert "cluster 'prod'" in str(caught.value)


async def test_a_call_throttled_until_its_deadline_ends_throttled() -> None:
    async with loopback(throttles) as server:
        ecs = server.client(total_timeout=0.3, rate_limits={"cluster_read": (5, 50)})
        async with ecs:
            with pytest.raises(ThrottlingException, match=r"total_timeout of 0\.3 s reached"):
                await ecs.list_clusters()
    assert server.requests > 1


# -- close() -------------------------------------------------------------------------------------


async def test_close_ends_every_call_in_flight_and_later_calls() -> None:
    async with loopback(never_answers) as server:
        hooks = Recorder()
        ecs = server.client(hooks=[hooks])
        calls = [asyncio.ensure_future(ecs.list_clusters()) for _ in range(20)]
        await _until(lambda: server.requests == 20, "20 requests in flight")
        await ecs.close()
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(r, ClientClosedError) for r in results), results
        assert {call.error_code for call in hooks.calls} == {"ClientClosedError"}
        with pytest.raises(ClientClosedError, match="closed"):
            await ecs.list_clusters()
        assert server.requests == 20


async def test_close_wakes_calls_asleep_in_the_pacer(local: LocalECS) -> None:
    local.faults = Faults(throttle=1.0)
    # A slow bucket: once throttled, reads wait seconds for a token, and keep trying.
    ecs = client_for(local, rate_limits={"cluster_resource_read": (1, 0.2)})
    calls = [asyncio.ensure_future(ecs.list_tasks(cluster="prod")) for _ in range(4)]
    await _until(lambda: local.request_count["ListTasks"] >= 6, "the pacer to engage")
    await asyncio.sleep(0.05)
    sent = local.request_count["ListTasks"]
    await ecs.close()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, ClientClosedError) for r in results), results
    await asyncio.sleep(0.1)
    assert local.request_count["ListTasks"] == sent  # nothing sent after close()


async def test_close_ends_streams_with_the_same_error(local: LocalECS) -> None:
    local.seed_tasks(3, cluster="prod")
    local.faults = Faults(latency_spike=1.0, spike_ms=5000, operations={"DescribeTasks"})
    ecs = client_for(local)
    stream = ecs.iter_tasks(cluster="prod")
    consumer = asyncio.ensure_future(_drain(stream))
    await _until(lambda: local.request_count["ListTasks"] == 1, "the listing")
    await asyncio.sleep(0.3)  # DescribeTasks in flight (answered after 5 s)
    await ecs.close()
    with pytest.raises(ClientClosedError):
        await consumer


async def test_close_ends_a_watch_with_the_same_error(local: LocalECS) -> None:
    local.seed_tasks(3, cluster="prod")
    local.faults = Faults(latency_spike=1.0, spike_ms=5000, operations={"DescribeTasks"})
    ecs = client_for(local)
    watch = ecs.watch_tasks(cluster="prod", interval=0.1)
    consumer = asyncio.ensure_future(_drain(watch))
    await _until(lambda: local.request_count["ListTasks"] == 1, "the listing")
    await asyncio.sleep(0.3)  # DescribeTasks in flight (answered after 5 s)
    await ecs.close()
    with pytest.raises(ClientClosedError):
        await consumer


async def test_close_wakes_a_watch_asleep_between_sweeps(local: LocalECS) -> None:
    local.seed_tasks(3, cluster="prod")
    ecs = client_for(local)
    watch = ecs.watch_tasks(cluster="prod", interval=60)
    seen: list[object] = []

    async def consume() -> None:
        async for change in watch:
            seen.append(change)

    consumer = asyncio.ensure_future(consume())
    await _until(lambda: len(seen) == 3, "the first sweep's changes")
    await asyncio.sleep(0.2)  # the watch now sleeps until its next sweep, 60 s away
    loop = asyncio.get_running_loop()
    closed_at = loop.time()
    await ecs.close()
    with pytest.raises(ClientClosedError):
        await asyncio.wait_for(consumer, 5)
    assert loop.time() - closed_at < 2  # at once, not at the next sweep


async def test_close_ends_a_job_waiting_between_polls(local: LocalECS) -> None:
    ecs = client_for(local)
    await ecs.create_cluster(cluster_name="batch")
    await ecs.register_task_definition(
        family="long",
        requires_compatibilities=["FARGATE"],
        network_mode="awsvpc",
        cpu="256",
        memory="512",
        container_definitions=[
            {
                "name": "app",
                "image": "app:1",
                "environment": [{"name": "AIOECS_RUN_SECONDS", "value": "600"}],
            }
        ],
    )
    job = await ecs.run_job(
        cluster="batch",
        task_definition="long",
        launch_type="FARGATE",
        network_configuration={"awsvpc_configuration": {"subnets": ["subnet-1"]}},
    )
    waiting = asyncio.ensure_future(job.wait(interval=60))
    await asyncio.sleep(0.3)  # asleep before its first poll, 60 s away
    loop = asyncio.get_running_loop()
    closed_at = loop.time()
    await ecs.close()
    with pytest.raises(ClientClosedError):
        await asyncio.wait_for(waiting, 5)
    assert loop.time() - closed_at < 2


async def test_a_closed_client_fails_at_once_even_unused() -> None:
    ecs = ECSClient(region="us-east-1")
    await ecs.close()
    with pytest.raises(ClientClosedError):
        await ecs.list_clusters()
    with pytest.raises(ClientClosedError):
        await _drain(ecs.iter_tasks(cluster="prod"))


# -- cancellation and hooks --------------------------------------------------------------------


async def test_a_cancelled_call_is_cancelled_and_reported_so() -> None:
    async with loopback(never_answers) as server:
        hooks = Recorder()
        async with server.client(hooks=[hooks]) as ecs:
            call = asyncio.ensure_future(ecs.list_clusters())
            await _until(lambda: server.requests == 1, "the request")
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            assert (await asyncio.gather(call, return_exceptions=True))[0].__class__ is (
                asyncio.CancelledError
            )
    assert [c.error_code for c in hooks.calls] == ["Cancelled"]


async def test_a_cancellation_during_a_backoff_is_reported_as_cancelled() -> None:
    def handler(request: HttpRequest) -> HttpResponse:
        return HttpResponse(500, {"x-amz-retry-after": "5000"}, b'{"__type": "ServerException"}')

    hooks = Recorder()
    async with _mock_client(handler, hooks=[hooks]) as ecs:
        call = asyncio.ensure_future(ecs.list_clusters())
        await _until(lambda: hooks.attempts, "the first attempt")
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    assert hooks.attempts[0].error_code == "ServerException"
    assert [c.error_code for c in hooks.calls] == ["Cancelled"]


async def test_hooks_name_a_failure_that_is_not_a_call_error() -> None:
    def handler(request: HttpRequest) -> HttpResponse:
        raise ValueError("a bug in a custom transport")

    hooks = Recorder()
    async with _mock_client(handler, hooks=[hooks]) as ecs:
        with pytest.raises(ValueError, match="bug"):
            await ecs.list_clusters()
    assert [c.error_code for c in hooks.calls] == ["ValueError"]
    assert [a.error_code for a in hooks.attempts] == ["ValueError"]


async def test_a_connection_closed_by_the_server_is_typed_and_retried() -> None:
    async with loopback(closes_the_connection) as server:
        ecs = server.client(max_attempts=2, rate_limits=False)
        async with ecs:
            with pytest.raises(TransportError) as caught:
                await ecs.list_clusters()
    assert caught.value.code == "ConnectionLost" and caught.value.sent
    assert server.requests == 2


# -- modeled errors keep their class -------------------------------------------------------------


async def test_a_modeled_throttling_error_keeps_its_class() -> None:
    body = b'{"__type": "LimitExceededException", "message": "Too many"}'
    seen: list[str] = []

    def handler(request: HttpRequest) -> HttpResponse:
        seen.append(request.operation)
        return HttpResponse(400, {"x-amzn-RequestId": "r-1"}, body)

    async with _mock_client(handler, max_attempts=2, rate_limits=False) as ecs:
        with pytest.raises(LimitExceededException, match=r"Too many \(2 attempts\)") as caught:
            await ecs.stop_task(task="t")
    assert isinstance(caught.value, ThrottlingException)
    assert caught.value.code == "LimitExceededException" and caught.value.request_id == "r-1"
    assert seen == ["StopTask"] * 2


# -- the same tests with ResourceWarning as an error ---------------------------------------------


@pytest.mark.skipif(bool(os.environ.get("AIOECS_LIFECYCLE_RERUN")), reason="the rerun itself")
def test_every_lifecycle_test_leaves_no_resource_behind() -> None:
    """Unclosed sockets, sessions and transports warn in `__del__`: as errors here (pytest
    reports them as unraisable-exception warnings, which pyproject makes errors too)."""
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [
            sys.executable,
            "-W",
            "error::ResourceWarning",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "error::ResourceWarning",
            str(Path(__file__).relative_to(root)),
            "tests/unit/test_retries.py::test_closing_during_a_backoff_ends_the_call_cleanly",
        ],
        cwd=root,
        env={**os.environ, "AIOECS_LIFECYCLE_RERUN": "1", "PYTHONDEVMODE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


@pytest.fixture(autouse=True)
def _collect_garbage() -> None:
    """Objects left behind warn when collected: collect them while this test is current."""
    yield  # type: ignore[misc]
    gc.collect()


# -- helpers -------------------------------------------------------------------------------------


def _mock_client(handler: object, **options: object) -> ECSClient:
    from aioecs import Credentials

    settings: dict[str, object] = {
        "region": "us-east-1",
        "credentials": Credentials(access_key_id="AKIDMOCK", secret_access_key="secret"),
        "transport": MockTransport(handler),  # type: ignore[arg-type]
        "rate_limits": False,
    }
    return ECSClient(**(settings | options))  # type: ignore[arg-type]


async def _drain(stream: object) -> None:
    async for _ in stream:  # type: ignore[attr-defined]
        pass
