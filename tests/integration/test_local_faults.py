"""LocalECS fault injection, observed on the wire with plain aiohttp, raw sockets and botocore.

Not with our ECSClient: these tests pin down what the faults look like, so the client's retry
tests can rely on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, ConnectionClosedError

from aioecs.testing import Faults, LocalECS

TARGET = "AmazonEC2ContainerServiceV20141113."


@pytest.fixture
async def local() -> AsyncIterator[LocalECS]:
    async with LocalECS(seed=1) as server:
        yield server


def signed(
    local: LocalECS, operation: str, payload: dict[str, Any]
) -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload).encode()
    request = AWSRequest(
        method="POST",
        url=local.endpoint_url + "/",
        data=body,
        headers={"X-Amz-Target": TARGET + operation, "Content-Type": "application/x-amz-json-1.1"},
    )
    SigV4Auth(Credentials(*local.credentials), "ecs", local.region).add_auth(request)
    return dict(request.headers.items()), body


@dataclass
class Outcome:
    """What a client saw: a whole response, or the kind of connection failure."""

    status: int | None = None
    headers: dict[str, str] | None = None
    body: bytes = b""
    failure: str | None = None  # "disconnected" (no response) or "payload" (body cut short)

    @property
    def label(self) -> str:
        return self.failure or str(self.status)

    def json(self) -> Any:
        return json.loads(self.body)


async def send(local: LocalECS, operation: str, payload: dict[str, Any] | None = None) -> Outcome:
    """One signed request on a fresh connection, with aiohttp."""
    headers, body = signed(local, operation, payload or {})
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        try:
            async with session.post(local.endpoint_url + "/", data=body, headers=headers) as r:
                outcome = Outcome(r.status, dict(r.headers))
                try:
                    outcome.body = await r.read()
                except aiohttp.ClientPayloadError:
                    outcome.failure = "payload"
                return outcome
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
            return Outcome(failure="disconnected")


async def send_raw(local: LocalECS, operation: str, payload: dict[str, Any]) -> tuple[bytes, str]:
    """One request written by hand on a raw socket: every byte that came back, and how the
    stream ended ("eof" or "reset")."""
    headers, body = signed(local, operation, payload)
    host, port = local.endpoint_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = f"Host: {host}:{port}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(
        f"POST / HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode("latin-1") + body
    )
    received = b""
    ended = "eof"
    try:
        while chunk := await reader.read(65536):
            received += chunk
    except ConnectionResetError:
        ended = "reset"
    writer.close()
    with contextlib.suppress(ConnectionResetError):
        await writer.wait_closed()
    return received, ended


def start_task_setup(local: LocalECS, instances: int = 2) -> dict[str, Any]:
    """Cluster ``c``, task definition ``app`` and container instances, made without HTTP;
    returns StartTask parameters that start one task per instance."""
    ops = local.state.operation
    ops("CreateCluster")({"clusterName": "c"})  # type: ignore[misc]
    ops("RegisterTaskDefinition")(  # type: ignore[misc]
        {"family": "app", "containerDefinitions": [{"name": "a", "image": "x", "memory": 64}]}
    )
    arns = [
        ops("RegisterContainerInstance")({"cluster": "c"})["containerInstance"][  # type: ignore[misc]
            "containerInstanceArn"
        ]
        for _ in range(instances)
    ]
    return {"cluster": "c", "taskDefinition": "app", "containerInstances": arns}


def boto(local: LocalECS, **config: Any) -> Any:
    return boto3.client(
        "ecs",
        **local.endpoint.client_kwargs(),
        config=Config(retries=config or {"total_max_attempts": 1}),
    )


# --- each fault on the wire -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("faults", "status", "code", "message"),
    [
        (Faults(throttle=1), 400, "ThrottlingException", "Rate exceeded"),
        (
            Faults(server_error=1),
            500,
            "ServerException",
            "Service Unavailable. Please try again later.",
        ),
        (Faults(unavailable=1), 503, "ServiceUnavailableException", "Service Unavailable"),
    ],
    ids=["throttle", "server_error", "unavailable"],
)
async def test_json_error_faults_are_not_processed(
    local: LocalECS, faults: Faults, status: int, code: str, message: str
) -> None:
    params = start_task_setup(local)
    local.faults = faults
    outcome = await send(local, "StartTask", params)
    assert outcome.status == status
    assert outcome.json() == {"__type": code, "message": message}
    assert outcome.headers is not None
    assert outcome.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert outcome.headers["x-amzn-RequestId"]
    assert local.task_count() == 0
    assert local.processed_count["StartTask"] == 0
    assert local.request_count["StartTask"] == 1
    kinds = ("throttle", "server_error", "unavailable")
    assert local.fault_counts == Counter({k: 1 for k in kinds if getattr(faults, k)})

    with pytest.raises(ClientError) as info:
        await asyncio.to_thread(boto(local).start_task, **params)
    error = info.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)
    assert local.task_count() == 0


async def test_html_502_from_a_proxy(local: LocalECS) -> None:
    params = start_task_setup(local)
    local.faults = Faults(html_502=1.0)
    outcome = await send(local, "StartTask", params)
    assert outcome.status == 502 and outcome.headers is not None
    assert outcome.headers["Content-Type"] == "text/html"
    assert "x-amzn-RequestId" not in outcome.headers  # the service never saw it
    assert outcome.body.startswith(b"<html>") and b"502 Bad Gateway" in outcome.body
    with pytest.raises(ClientError) as info:
        await asyncio.to_thread(boto(local).start_task, **params)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 502
    assert local.task_count() == 0 and local.processed_count["StartTask"] == 0
    assert local.fault_counts == Counter({"html_502": 2})


async def test_reset_before_drops_the_connection_without_effect(local: LocalECS) -> None:
    params = start_task_setup(local)
    local.faults = Faults(reset_before=1.0)
    assert (await send(local, "StartTask", params)).failure == "disconnected"
    received, ended = await send_raw(local, "StartTask", params)
    assert (received, ended) == (b"", "reset")  # not one byte, and a RST rather than a FIN
    with pytest.raises(ConnectionClosedError):
        await asyncio.to_thread(boto(local).start_task, **params)
    assert local.task_count() == 0
    assert local.processed_count["StartTask"] == 0
    assert local.request_count["StartTask"] == 3
    assert local.fault_counts == Counter({"reset_before": 3})


async def test_reset_after_processes_then_drops_the_connection(local: LocalECS) -> None:
    params = start_task_setup(local, instances=2)
    local.faults = Faults(reset_after=1.0)
    assert (await send(local, "StartTask", params)).failure == "disconnected"
    assert local.task_count("c") == 2  # the tasks were started; the client cannot know
    received, ended = await send_raw(local, "StartTask", params)
    assert (received, ended) == (b"", "reset")
    assert local.task_count("c") == 4
    assert local.processed_count["StartTask"] == 2
    assert local.fault_counts == Counter({"reset_after": 2})

    local.faults = None
    listed = await send(local, "ListTasks", {"cluster": "c", "desiredStatus": "RUNNING"})
    assert len(listed.json()["taskArns"]) == 4


async def test_a_naive_retry_duplicates_start_task(local: LocalECS) -> None:
    """botocore retries a StartTask whose connection dropped: each attempt starts the tasks."""
    params = start_task_setup(local, instances=2)
    local.faults = Faults(reset_after=1.0, operations={"StartTask"})
    ecs = boto(local, mode="standard", total_max_attempts=3)
    with pytest.raises(ConnectionClosedError):
        await asyncio.to_thread(ecs.start_task, **params)
    assert local.request_count["StartTask"] == 3
    assert local.task_count("c") == 3 * 2  # asked for 2, got 6


async def test_truncated_sends_headers_and_half_the_body(local: LocalECS) -> None:
    params = start_task_setup(local, instances=1)
    local.faults = Faults(truncated=1.0)
    received, ended = await send_raw(local, "StartTask", params)
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0] == "HTTP/1.1 200 OK"
    headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
    assert headers["content-type"] == "application/x-amz-json-1.1"
    assert headers["x-amzn-requestid"]
    length = int(headers["content-length"])
    assert 0 < len(body) == length // 2 < length and ended == "eof"
    assert body.startswith(b'{"tasks":[{')
    assert local.task_count("c") == 1  # processed

    outcome = await send(local, "StartTask", params)
    assert (outcome.status, outcome.failure) == (200, "payload")  # aiohttp notices
    # botocore does not: it reads with enforce_content_length=False and parses a body that is
    # not JSON as {"message": ...}, so the call "succeeds" with no tasks in it. A client has to
    # check the length itself.
    silent = await asyncio.to_thread(boto(local).start_task, **params)
    assert "tasks" not in silent and silent["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert local.task_count("c") == 3
    assert local.fault_counts == Counter({"truncated": 3})


async def test_latency_spike(local: LocalECS) -> None:
    local.faults = Faults(latency_spike=1.0, spike_ms=200)
    started = time.perf_counter()
    outcome = await send(local, "ListClusters")
    assert outcome.status == 200 and time.perf_counter() - started >= 0.2
    assert local.fault_counts == Counter({"latency_spike": 1})
    assert local.processed_count["ListClusters"] == 1


async def test_faults_off_means_untouched(local: LocalECS) -> None:
    assert local.faults is None
    for _ in range(20):
        assert (await send(local, "ListClusters")).status == 200
    assert local.fault_counts == Counter()
    assert local.request_count == local.processed_count == Counter({"ListClusters": 20})


# --- choosing faults ---------------------------------------------------------------------------

MIXED = Faults(
    seed=7,
    throttle=0.1,
    server_error=0.1,
    unavailable=0.1,
    reset_before=0.1,
    reset_after=0.1,
    truncated=0.1,
    html_502=0.1,
)


async def outcomes(local: LocalECS, n: int, operation: str = "ListClusters") -> list[str]:
    return [(await send(local, operation)).label for _ in range(n)]


async def test_seeded_faults_are_reproducible() -> None:
    runs = []
    for _ in range(2):
        async with LocalECS(faults=MIXED) as local:
            runs.append((await outcomes(local, 60), local.fault_counts.copy()))
    (first, counts), (second, counts_again) = runs
    assert first == second and counts == counts_again
    assert set(first) == {"200", "400", "500", "503", "502", "disconnected", "payload"}
    assert sum(counts.values()) == len(first) - first.count("200")

    async with LocalECS(faults=dataclasses.replace(MIXED, seed=8)) as local:
        assert await outcomes(local, 60) != first

    async with LocalECS(faults=MIXED) as local:  # assigning restarts the sequence
        head = await outcomes(local, 10)
        local.faults = MIXED
        assert await outcomes(local, 10) == head == first[:10]


async def test_request_and_processed_counts_under_faults() -> None:
    async with LocalECS(faults=MIXED) as local:
        seen = Counter(await outcomes(local, 100))
        assert local.request_count["ListClusters"] == 100
        # processed: answered normally, or answered and then lost / cut short
        assert local.processed_count["ListClusters"] == (
            seen["200"] + local.fault_counts["reset_after"] + local.fault_counts["truncated"]
        )
        assert seen["payload"] == local.fault_counts["truncated"]
        assert seen["disconnected"] == (
            local.fault_counts["reset_before"] + local.fault_counts["reset_after"]
        )


async def test_faults_only_for_chosen_operations(local: LocalECS) -> None:
    targeted = Faults(seed=3, throttle=0.5, operations={"DescribeClusters"})
    local.faults = targeted
    alone = await outcomes(local, 20, "DescribeClusters")
    local.faults = targeted
    interleaved = []
    for _ in range(20):
        assert (await send(local, "ListClusters")).status == 200  # untouched, draws nothing
        interleaved += await outcomes(local, 1, "DescribeClusters")
    assert interleaved == alone and "400" in alone and "200" in alone


async def test_faults_change_while_running(local: LocalECS) -> None:
    assert (await send(local, "ListClusters")).status == 200
    local.faults = Faults(throttle=1.0)
    assert local.faults == Faults(throttle=1.0)
    assert (await send(local, "ListClusters")).status == 400
    local.faults = None
    assert (await send(local, "ListClusters")).status == 200
    assert local.fault_counts == Counter({"throttle": 1})


def test_faults_validation_and_parsing() -> None:
    with pytest.raises(ValueError, match="add up"):
        Faults(throttle=0.6, server_error=0.6)
    with pytest.raises(ValueError, match="probability"):
        Faults(truncated=-0.1)
    with pytest.raises(TypeError):
        Faults(operations="StartTask")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Faults(rate_limit=(1, 0))
    assert Faults(operations=["StartTask"]).operations == frozenset({"StartTask"})  # type: ignore[arg-type]

    parsed = Faults.parse(
        "seed=1, throttle=0.1,reset_after=0.02,rate_limit=20:100,operations=StartTask+ListTasks"
    )
    assert parsed == Faults(
        seed=1,
        throttle=0.1,
        reset_after=0.02,
        rate_limit=(20, 100),
        operations=frozenset({"StartTask", "ListTasks"}),
    )
    assert Faults.parse("") == Faults()
    with pytest.raises(ValueError, match="bad fault setting"):
        Faults.parse("thrott=0.1")


# --- rate limit --------------------------------------------------------------------------------


async def test_rate_limit_is_a_token_bucket_per_operation(local: LocalECS) -> None:
    local.faults = Faults(rate_limit=(0, 5))  # no refill: exactly the burst gets through
    assert await outcomes(local, 8) == ["200"] * 5 + ["400"] * 3
    throttled = await send(local, "ListClusters")
    assert throttled.json() == {"__type": "ThrottlingException", "message": "Rate exceeded"}
    assert await outcomes(local, 6, "DescribeClusters") == ["200"] * 5 + ["400"]  # own bucket
    assert local.fault_counts == Counter({"rate_limit": 5})
    assert local.processed_count == Counter({"ListClusters": 5, "DescribeClusters": 5})

    local.faults = Faults(rate_limit=(0, 3), rate_limit_scope="global")
    assert await outcomes(local, 2) + await outcomes(local, 2, "DescribeClusters") == (
        ["200"] * 3 + ["400"]
    )


async def test_rate_limit_refills(local: LocalECS) -> None:
    local.faults = Faults(rate_limit=(2, 1))  # one token, back after half a second
    assert await outcomes(local, 2) == ["200", "400"]
    await asyncio.sleep(0.6)
    assert await outcomes(local, 1) == ["200"]


async def test_adaptive_retries_send_fewer_requests_than_standard() -> None:
    """botocore's adaptive mode rate-limits itself once throttled; standard mode only backs off
    and keeps spending requests on throttling. (Adaptive is slow to recover: ~4 s.)"""
    sent = {}
    for mode in ("standard", "adaptive"):
        async with LocalECS(faults=Faults(rate_limit=(25, 5), rate_limit_scope="global")) as local:
            ecs = boto(local, mode=mode, total_max_attempts=10)

            def calls(ecs: Any = ecs) -> None:
                for _ in range(10):
                    ecs.list_clusters()

            await asyncio.gather(*(asyncio.to_thread(calls) for _ in range(4)))
            assert local.processed_count["ListClusters"] == 40  # every call got through
            sent[mode] = local.request_count["ListClusters"]
    assert sent["adaptive"] < sent["standard"], sent
