"""Code that runs inside an ECS task: task metadata v4 and scale-in protection, over HTTP
against a loopback stand-in for the ECS container agent.

The stand-in answers with the documents AWS's documentation shows (tests/agent_documents,
see its README), plus fields the agent might add later, and with scripted failures: 429,
5xx, refusals, silence, nothing listening at all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import aioecs
from aioecs.errors import AgentError, AioECSError, CallError, ConfigError, ValidationError

DOCUMENTS = Path(__file__).resolve().parents[1] / "agent_documents"
TASK_ARN = "arn:aws:ecs:us-west-2:111122223333:task/default/e9028f8d5d8e4f258373e7b93ce9a3c3"

pytestmark = pytest.mark.usefixtures("hermetic_env")


def document(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DOCUMENTS / name).read_text())
    return loaded


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@attrs.define
class Agent:
    """The agent's endpoints for one container; `script` holds answers to give before the
    normal ones, as (status, JSON body)."""

    task: dict[str, Any] = attrs.Factory(lambda: document("task_metadata_v4.fargate.json"))
    container: dict[str, Any] = attrs.Factory(
        lambda: document("container_metadata_v4.ec2_bridge.json")
    )
    script: list[tuple[int, object]] = attrs.Factory(list)
    requests: list[tuple[str, str, object]] = attrs.Factory(list)
    puts: list[dict[str, Any]] = attrs.Factory(list)
    seen_puts: asyncio.Event = attrs.Factory(asyncio.Event)
    wait_for_puts: int = 0
    hold_grants: asyncio.Event | None = None  # if set: grants are made, their answers held
    hold_script: asyncio.Event | None = None  # if set: scripted answers wait for it

    def answer(self, status: int, body: object) -> web.Response:
        return web.json_response(body, status=status)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        self.requests.append((request.method, request.path, body))
        if self.script:
            if self.hold_script is not None:
                await self.hold_script.wait()
            return self.answer(*self.script.pop(0))
        if request.method == "GET":
            return self.answer(200, self.task if request.path.endswith("/task") else self.container)
        self.puts.append(body)
        if len(self.puts) >= self.wait_for_puts:
            self.seen_puts.set()
        if self.hold_grants is not None and body["ProtectionEnabled"]:
            await self.hold_grants.wait()
        protection: dict[str, Any] = {"ProtectionEnabled": body["ProtectionEnabled"]}
        protection["TaskArn"] = TASK_ARN
        if body["ProtectionEnabled"]:
            protection["ExpirationDate"] = "2023-12-20T21:57:44.837Z"
        return self.answer(200, {"protection": protection})


@pytest.fixture
async def agent(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Agent]:
    state = Agent()
    app = web.Application()
    app.router.add_get("/v4/abc123-4567", state.handle)
    app.router.add_get("/v4/abc123-4567/task", state.handle)
    app.router.add_put("/api/abc123-4567/task-protection/v1/state", state.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    base = f"http://127.0.0.1:{server.port}"
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", f"{base}/v4/abc123-4567")
    monkeypatch.setenv("ECS_AGENT_URI", f"{base}/api/abc123-4567")
    try:
        yield state
    finally:
        await server.close()


async def until(condition: Callable[[], bool]) -> None:
    """Wait for `condition` (checked every few milliseconds; a hang fails after 30 s)."""

    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), 30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def nothing_listening(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    base = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", f"{base}/v4/x")
    monkeypatch.setenv("ECS_AGENT_URI", f"{base}/api/x")
    yield


@pytest.fixture
async def silent_agent(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[int]]:
    """Accepts connections and never answers; yields the number of connections seen."""
    connections: list[int] = []
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", f"http://127.0.0.1:{port}/v4/x")
    monkeypatch.setenv("ECS_AGENT_URI", f"http://127.0.0.1:{port}/api/x")
    try:
        yield connections
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


# -- task metadata -------------------------------------------------------------------------


async def test_task_metadata_on_fargate_as_documented(agent: Agent) -> None:
    agent.task["SomethingNewer"] = {"Nested": [1, 2]}
    agent.task["Containers"][0]["RestartCount"] = 2
    agent.task["Containers"][0]["AFutureField"] = "ignored"
    task = await aioecs.task_metadata()
    assert isinstance(task, aioecs.TaskMetadata)
    assert task.task_arn == TASK_ARN
    assert task.cluster == "arn:aws:ecs:us-west-2:111122223333:cluster/default"
    assert (task.family, task.revision) == ("curltest", 3)
    assert (task.desired_status, task.known_status) == ("RUNNING", "RUNNING")
    assert (task.availability_zone, task.launch_type) == ("us-west-2a", "FARGATE")
    assert task.limits == aioecs.ResourceLimits(cpu=0.25, memory=512)
    # Nanoseconds cut to microseconds; UTC.
    assert task.pull_started_at == utc(2020, 10, 8, 20, 47, 16, 53330)
    assert task.pull_stopped_at == utc(2020, 10, 8, 20, 47, 19, 592684)
    assert task.execution_stopped_at is None and task.service_name is None
    assert task.raw["SomethingNewer"] == {"Nested": [1, 2]}
    (curl,) = task.containers
    assert curl.name == "curl"
    assert curl.docker_id == "e9028f8d5d8e4f258373e7b93ce9a3c3-2495160603"
    assert curl.image == "111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest:latest"
    assert curl.image_id is not None and curl.image_id.startswith("sha256:25f3695b")
    assert curl.labels["com.amazonaws.ecs.task-definition-version"] == "3"
    assert curl.limits == aioecs.ResourceLimits(cpu=10, memory=128)
    assert curl.created_at == curl.started_at == utc(2020, 10, 8, 20, 47, 20, 567813)
    assert (curl.type, curl.log_driver, curl.restart_count) == ("NORMAL", "awslogs", 2)
    assert curl.log_options["awslogs-group"] == "/ecs/containerlogs"
    assert curl.container_arn is not None and curl.container_arn.endswith("4064cb70f6e6")
    (network,) = curl.networks
    assert network.network_mode == "awsvpc"
    assert network.ipv4_addresses == ("192.0.2.3",)
    assert network.domain_name_servers == ("192.0.2.2",)
    assert network.mac_address == "0a:de:f6:10:51:e5"
    assert network.private_dns_name == "ip-10-0-0-222.us-west-2.compute.internal"
    assert agent.requests == [("GET", "/v4/abc123-4567/task", None)]


async def test_task_metadata_on_ec2_as_documented(agent: Agent) -> None:
    agent.task = document("task_metadata_v4.ec2.json")
    task = await aioecs.task_metadata()
    assert (task.cluster, task.service_name, task.vpc_id) == (
        "default",
        "MyService",
        "vpc-1234567890abcdef0",
    )
    assert task.limits == aioecs.ResourceLimits()  # the EC2 example sets no task-level limits
    assert task.pull_stopped_at == utc(2020, 10, 2, 0, 43, 6, 312884)
    pause, curl = task.containers
    assert (pause.type, pause.known_status, pause.image_id) == (
        "CNI_PAUSE",
        "RESOURCES_PROVISIONED",
        None,
    )
    assert curl.networks[0].subnet_gateway_ipv4_address == "10.0.2.1/24"


async def test_container_metadata_as_documented(agent: Agent) -> None:
    container = await aioecs.container_metadata()
    assert isinstance(container, aioecs.ContainerMetadata)
    assert (container.name, container.docker_name) == (
        "curl",
        "ecs-curltest-24-curl-cca48e8dcadd97805600",
    )
    assert container.ports == (
        aioecs.ContainerPort(container_port=80, host_port=80, protocol="tcp", host_ip="0.0.0.0"),
    )
    assert container.networks == (
        aioecs.ContainerNetwork(network_mode="bridge", ipv4_addresses=("172.17.0.2",)),
    )
    assert container.started_at == utc(2020, 10, 2, 0, 15, 8, 62559)
    assert agent.requests == [("GET", "/v4/abc123-4567", None)]


async def test_metadata_decoding_is_lenient(agent: Agent) -> None:
    agent.task = {
        "TaskARN": TASK_ARN,
        "Revision": {"unexpected": True},
        "Limits": "lots",
        "PullStartedAt": "not a time",
        "PullStoppedAt": "0001-01-01T00:00:00Z",  # Go's zero time: never happened
        "ExecutionStoppedAt": "2024-02-29T23:59:59.5+02:00",
        "TaskTags": {"team": "core", "bad": 1},
        "Containers": [
            "junk",
            {"DockerId": "no name: skipped"},
            {"Name": "app", "ExitCode": 137, "Health": {"status": "HEALTHY"}, "Networks": "?"},
        ],
    }
    task = await aioecs.task_metadata()
    assert task.revision is None and task.limits == aioecs.ResourceLimits()
    assert task.pull_started_at is None and task.pull_stopped_at is None
    assert task.execution_stopped_at == utc(2024, 2, 29, 21, 59, 59, 500000)
    assert task.task_tags == {"team": "core"}
    (app,) = task.containers
    assert (app.name, app.exit_code, app.health_status, app.networks) == ("app", 137, "HEALTHY", ())


@pytest.mark.parametrize("body", [{"Cluster": "no TaskARN"}, ["a list"]])
async def test_metadata_that_is_no_task_is_an_agent_error(agent: Agent, body: object) -> None:
    agent.script.append((200, body))
    with pytest.raises(AgentError) as info:
        await aioecs.task_metadata()
    assert info.value.code == "ResponseError"


async def test_metadata_5xx_is_retried_and_404_is_not(agent: Agent) -> None:
    agent.script += [(500, {}), (503, {})]
    assert (await aioecs.task_metadata()).task_arn == TASK_ARN
    assert len(agent.requests) == 3
    agent.script.append((404, {"error": {"Code": "NotFound", "Message": "no such container"}}))
    with pytest.raises(AgentError) as info:
        await aioecs.container_metadata()
    assert (info.value.status, info.value.code) == (404, "NotFound")
    assert "no such container" in str(info.value)
    assert len(agent.requests) == 4


@pytest.mark.parametrize(
    ("call", "variable"),
    [
        (aioecs.task_metadata, "ECS_CONTAINER_METADATA_URI_V4"),
        (aioecs.container_metadata, "ECS_CONTAINER_METADATA_URI_V4"),
    ],
)
async def test_outside_a_task_metadata_is_a_config_error(call: Any, variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        await call()


async def test_a_malformed_agent_address_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", "169.254.170.2/v4/abc")
    with pytest.raises(ConfigError, match=r"ECS_CONTAINER_METADATA_URI_V4 is not an http://"):
        await aioecs.task_metadata()


async def test_outside_a_task_protection_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ECS_AGENT_URI"):
        async with aioecs.protect_task(expires_in=timedelta(minutes=5)):
            pytest.fail("the block ran outside a task")


async def test_nothing_listening_is_an_agent_error(nothing_listening: None) -> None:
    with pytest.raises(AgentError) as info:
        await aioecs.task_metadata()
    assert info.value.code == "ConnectError" and info.value.status is None
    assert isinstance(info.value, CallError) and isinstance(info.value, AioECSError)
    with pytest.raises(AgentError):
        async with aioecs.protect_task(expires_in=timedelta(minutes=5)):
            pytest.fail("the block ran without protection")


async def test_silent_agent_is_an_agent_error_not_a_hang(silent_agent: list[int]) -> None:
    # The default allowance (5 s); the outer wait_for only turns a hang into a failure.
    with pytest.raises(AgentError) as info:
        await asyncio.wait_for(aioecs.task_metadata(), 60)
    assert info.value.code == "Timeout"
    with pytest.raises(AgentError, match=r"did not answer within 0\.3 s"):
        async with aioecs.protect_task(expires_in=timedelta(minutes=5), timeout=0.3):
            pytest.fail("the block ran without protection")
    assert len(silent_agent) == 2  # a timeout has spent the allowance: no retry


@pytest.fixture
def unaccepting_agent(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A listening socket whose accept queue is full: connecting to it hangs (the kernel
    drops the SYNs), as it does to an address nothing answers on."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", f"http://127.0.0.1:{port}/v4/x")
    try:
        yield
    finally:
        for sock in [*fillers, server]:
            sock.close()


async def test_connecting_gets_two_seconds_per_attempt(unaccepting_agent: None) -> None:
    # A generous allowance: only a 2 s connect timeout per attempt ends every attempt with
    # ConnectTimeout (four of them) before the allowance runs out.
    with pytest.raises(AgentError) as info:
        await aioecs.task_metadata(timeout=30)
    assert info.value.code == "ConnectTimeout"
    assert "did not accept a connection within 2 s" in str(info.value)


# -- scale-in protection -------------------------------------------------------------------


async def test_protection_is_granted_then_released(agent: Agent) -> None:
    async with aioecs.protect_task(expires_in=timedelta(minutes=30)) as protection:
        assert isinstance(protection, aioecs.TaskProtection)
        assert protection.state == aioecs.TaskProtectionState(
            task_arn=TASK_ARN,
            protection_enabled=True,
            expiration_date=utc(2023, 12, 20, 21, 57, 44, 837000),
        )
        assert agent.puts == [{"ProtectionEnabled": True, "ExpiresInMinutes": 30}]
    assert agent.puts[-1] == {"ProtectionEnabled": False}
    assert len(agent.puts) == 2
    assert protection.state is not None and not protection.state.protection_enabled
    assert [path for _, path, _ in agent.requests] == [
        "/api/abc123-4567/task-protection/v1/state"
    ] * 2


async def test_protection_expiry_is_whole_minutes_rounded_up(agent: Agent) -> None:
    async with aioecs.protect_task(expires_in=timedelta(seconds=61)):
        pass
    assert agent.puts[0] == {"ProtectionEnabled": True, "ExpiresInMinutes": 2}


@pytest.mark.parametrize(
    ("expires_in", "renew_every"),
    [
        (timedelta(0), None),
        (timedelta(hours=48, minutes=1), None),
        (timedelta(minutes=1), timedelta(minutes=1)),
        (timedelta(minutes=5), timedelta(seconds=-1)),
    ],
)
def test_bad_protection_periods_are_refused(
    expires_in: timedelta, renew_every: timedelta | None
) -> None:
    with pytest.raises(ValidationError):
        aioecs.protect_task(expires_in=expires_in, renew_every=renew_every)


async def test_protection_is_renewed_while_the_block_runs(agent: Agent) -> None:
    agent.wait_for_puts = 4
    protect = aioecs.protect_task(
        expires_in=timedelta(minutes=1), renew_every=timedelta(seconds=0.02)
    )
    async with protect as protection:
        await asyncio.wait_for(agent.seen_puts.wait(), 30)
        assert protection.renewals >= 2  # the third answer may still be on its way
    granted = agent.puts[:-1]
    assert len(granted) >= 4
    assert all(put == {"ProtectionEnabled": True, "ExpiresInMinutes": 1} for put in granted)
    assert agent.puts[-1] == {"ProtectionEnabled": False}
    settled = len(agent.puts)
    await asyncio.sleep(0.1)  # five renewal periods: the renewals stopped with the block
    assert len(agent.puts) == settled


async def test_protection_is_released_when_the_block_raises(agent: Agent) -> None:
    with pytest.raises(KeyError, match="boom"):
        async with aioecs.protect_task(expires_in=timedelta(minutes=5)):
            raise KeyError("boom")
    assert agent.puts == [
        {"ProtectionEnabled": True, "ExpiresInMinutes": 5},
        {"ProtectionEnabled": False},
    ]


async def test_protection_is_released_when_the_block_is_cancelled(agent: Agent) -> None:
    inside = asyncio.Event()

    async def work() -> None:
        async with aioecs.protect_task(expires_in=timedelta(minutes=5)):
            inside.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(work())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert agent.puts[-1] == {"ProtectionEnabled": False}


async def test_release_outlives_a_second_cancellation(agent: Agent) -> None:
    inside = asyncio.Event()

    async def work() -> None:
        async with aioecs.protect_task(expires_in=timedelta(minutes=5)):
            inside.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(work())
    await inside.wait()
    # The release's first attempt is answered 503 (so it is tried again), once cancelled twice.
    agent.script.append((503, {}))
    agent.hold_script = asyncio.Event()
    task.cancel()
    await until(lambda: len(agent.requests) == 2)
    task.cancel()
    agent.hold_script.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    await until(lambda: len(agent.puts) == 2)
    assert agent.puts[-1] == {"ProtectionEnabled": False}


async def test_protection_is_released_when_entering_is_cancelled(agent: Agent) -> None:
    # Cancelled after the agent granted protection, before its answer arrived.
    agent.hold_grants = asyncio.Event()
    entering = asyncio.create_task(
        aioecs.protect_task(expires_in=timedelta(minutes=5)).__aenter__()
    )
    await until(lambda: len(agent.puts) == 1)
    entering.cancel()
    with pytest.raises(asyncio.CancelledError):
        await entering
    await until(lambda: len(agent.puts) == 2)
    assert agent.puts[-1] == {"ProtectionEnabled": False}
    agent.hold_grants.set()


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_busy_or_failing_agent_is_retried(agent: Agent, status: int) -> None:
    agent.script += [(status, {"error": {"Code": "Busy"}}), (status, {})]
    async with aioecs.protect_task(expires_in=timedelta(minutes=5)) as protection:
        assert protection.state is not None and protection.state.protection_enabled
    assert len(agent.requests) == 4  # two refused, the grant, the release


async def test_agent_that_keeps_failing_gives_up(agent: Agent) -> None:
    agent.script += [(500, {"error": {"Code": "ServerException", "Message": "down"}})] * 10
    with pytest.raises(AgentError) as info:
        async with aioecs.protect_task(expires_in=timedelta(minutes=5)):
            pytest.fail("the block ran without protection")
    assert (info.value.status, info.value.code) == (500, "ServerException")
    assert len(agent.requests) == 4  # MAX_ATTEMPTS


async def test_refusals_are_typed_errors_and_not_retried(agent: Agent) -> None:
    # The three answers of the task-protection endpoint's documentation.
    failure = {
        "failure": {"Arn": TASK_ARN, "Reason": "TASK_NOT_VALID"},
        "requestID": "12345-abc-6789-0123-abcdef",
    }
    error = {
        "requestID": "12345-abc-6789-0123-abcdef",
        "error": {
            "Arn": TASK_ARN,
            "Code": "AccessDeniedException",
            "Message": "User: arn:aws:sts::444455556666:assumed-role/my-ecs-task-role/1234 is "
            "not authorized to perform: ecs:UpdateTaskProtection",
        },
    }
    agent.script += [(200, failure), (400, error)]
    with pytest.raises(AgentError) as info:
        async with aioecs.protect_task(expires_in=timedelta(minutes=5)):
            pytest.fail("the block ran without protection")
    assert info.value.code == "TASK_NOT_VALID"
    assert info.value.request_id == "12345-abc-6789-0123-abcdef"
    with pytest.raises(AgentError) as info:
        async with aioecs.protect_task(expires_in=timedelta(minutes=5)):
            pytest.fail("the block ran without protection")
    assert (info.value.code, info.value.status) == ("AccessDeniedException", 400)
    assert "not authorized" in str(info.value)
    assert len(agent.requests) == 2
    assert agent.puts == []


async def test_failed_renewal_is_logged_and_tried_again(
    agent: Agent, caplog: pytest.LogCaptureFixture
) -> None:
    protect = aioecs.protect_task(
        expires_in=timedelta(minutes=1), renew_every=timedelta(seconds=0.02), timeout=0.5
    )
    async with protect as protection:
        agent.script += [(400, {"error": {"Code": "AccessDeniedException"}})]
        await until(lambda: protection.renewals >= 1)
        assert protection.last_error is None  # the renewal after the failure succeeded
    assert "renewing task scale-in protection failed" in caplog.text
    assert "AccessDeniedException" in caplog.text


async def test_failed_release_is_logged_not_raised(
    agent: Agent, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with aioecs.protect_task(expires_in=timedelta(minutes=7)) as protection:
        agent.script += [(400, {"error": {"Code": "AccessDeniedException"}})]
    assert protection.last_error is not None
    assert protection.last_error.code == "AccessDeniedException"
    assert "lapses by itself within 7 minutes" in caplog.text
