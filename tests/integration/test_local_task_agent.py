"""LocalECS as the ECS agent of one of its tasks: `task_environment()` hands out what a
container would see, and worker code runs against it unchanged (metadata, scale-in
protection, task role credentials)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest

import aioecs
from aioecs import ECSClient
from aioecs.errors import AgentError, ECSError, InvalidParameterException
from aioecs.testing import LocalECS

pytestmark = pytest.mark.usefixtures("hermetic_env")

CLOCK = 1_700_000_000.0


@pytest.fixture
async def local() -> AsyncIterator[LocalECS]:
    async with LocalECS(seed=3, clock=lambda: CLOCK) as emulator:
        yield emulator


def enter(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


async def test_environment_is_what_a_container_sees(local: LocalECS) -> None:
    (arn,) = local.seed_tasks(cluster="prod", family="worker", launch_type="FARGATE")
    env = local.task_environment(arn)
    assert env["ECS_CONTAINER_METADATA_URI_V4"].startswith(local.endpoint_url + "/v4/")
    assert env["ECS_AGENT_URI"].startswith(local.endpoint_url + "/api/")
    assert env["AWS_CONTAINER_CREDENTIALS_FULL_URI"].startswith(local.endpoint_url)
    assert env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    assert env["AWS_EXECUTION_ENV"] == "AWS_ECS_FARGATE"
    assert (env["AWS_REGION"], env["AWS_ENDPOINT_URL_ECS"]) == (local.region, local.endpoint_url)
    assert local.task_environment(arn) != env  # a container of its own each time
    with pytest.raises(KeyError):
        local.task_environment(arn.replace("prod", "nope"))
    with pytest.raises(KeyError, match="no container 'sidecar'"):
        local.task_environment(arn, container="sidecar")


async def test_task_and_container_metadata(
    local: LocalECS, monkeypatch: pytest.MonkeyPatch
) -> None:
    (arn,) = local.seed_tasks(cluster="prod", family="worker", launch_type="FARGATE")
    enter(monkeypatch, local.task_environment(arn))
    described = local.describe_task(arn)
    task = await aioecs.task_metadata()
    assert task.task_arn == arn
    assert task.cluster == described["clusterArn"]
    assert (task.family, task.revision, task.launch_type) == ("worker", 1, "FARGATE")
    assert (task.desired_status, task.known_status) == ("RUNNING", "RUNNING")
    assert task.availability_zone == described["availabilityZone"]
    assert task.limits.cpu == int(described["cpu"]) / 1024
    assert task.pull_started_at == datetime.fromtimestamp(described["pullStartedAt"], timezone.utc)
    (container,) = task.containers
    wire = described["containers"][0]
    assert (container.name, container.container_arn) == (wire["name"], wire["containerArn"])
    assert (container.docker_id, container.image_id) == (wire["runtimeId"], wire["imageDigest"])
    assert container.labels["com.amazonaws.ecs.task-arn"] == arn
    assert container.networks[0].network_mode == "awsvpc"
    assert container.networks[0].ipv4_addresses == (
        wire["networkInterfaces"][0]["privateIpv4Address"],
    )
    assert await aioecs.container_metadata() == container


async def test_protection_is_visible_through_the_ecs_api(
    local: LocalECS, monkeypatch: pytest.MonkeyPatch
) -> None:
    (arn,) = local.seed_tasks(cluster="prod", service_name="workers")
    enter(monkeypatch, local.task_environment(arn))
    async with local.client() as ecs:
        async with aioecs.protect_task(expires_in=timedelta(minutes=15)) as protection:
            answer = await ecs.get_task_protection(cluster="prod", tasks=[arn])
            (protected,) = answer.protected_tasks
            assert protected.protection_enabled
            expiry = datetime.fromtimestamp(CLOCK + 15 * 60, timezone.utc)
            assert protected.expiration_date == expiry
            assert protection.state == aioecs.TaskProtectionState(
                task_arn=arn, protection_enabled=True, expiration_date=expiry
            )
        answer = await ecs.get_task_protection(cluster="prod", tasks=[arn])
        assert not answer.protected_tasks[0].protection_enabled
        assert answer.protected_tasks[0].expiration_date is None


async def test_update_and_get_task_protection(local: LocalECS) -> None:
    running, stopped = local.seed_tasks(2, cluster="prod")
    local.set_task_status(stopped, "STOPPED")
    async with local.client() as ecs:
        answer = await ecs.update_task_protection(
            cluster="prod", tasks=[running, stopped, "nope"], protection_enabled=True
        )
        (protected,) = answer.protected_tasks
        # ECS's default: 120 minutes.
        expiry = datetime.fromtimestamp(CLOCK + 120 * 60, timezone.utc)
        assert (protected.task_arn, protected.expiration_date) == (running, expiry)
        assert [(f.arn, f.reason) for f in answer.failures] == [
            (stopped, "TASK_NOT_VALID"),
            (running.rsplit("/", 1)[0] + "/nope", "MISSING"),
        ]
        got = await ecs.get_task_protection(cluster="prod", tasks=[running])
        assert got.protected_tasks[0].protection_enabled
        with pytest.raises(InvalidParameterException, match="expiresInMinutes"):
            await ecs.update_task_protection(
                cluster="prod", tasks=[running], protection_enabled=True, expires_in_minutes=2881
            )
        await ecs.update_task_protection(cluster="prod", tasks=[running], protection_enabled=False)
        got = await ecs.get_task_protection(cluster="prod", tasks=[running])
        assert not got.protected_tasks[0].protection_enabled


async def test_protection_lapses_at_its_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [CLOCK]
    async with LocalECS(clock=lambda: now[0]) as local:
        (arn,) = local.seed_tasks(cluster="prod")
        async with local.client() as ecs:
            await ecs.update_task_protection(
                cluster="prod", tasks=[arn], protection_enabled=True, expires_in_minutes=1
            )
            now[0] += 59
            got = await ecs.get_task_protection(cluster="prod", tasks=[arn])
            assert got.protected_tasks[0].protection_enabled
            now[0] += 1
            got = await ecs.get_task_protection(cluster="prod", tasks=[arn])
            assert not got.protected_tasks[0].protection_enabled


async def test_a_stopped_task_cannot_be_protected(
    local: LocalECS, monkeypatch: pytest.MonkeyPatch
) -> None:
    (arn,) = local.seed_tasks(cluster="prod")
    enter(monkeypatch, local.task_environment(arn))
    local.set_task_status(arn, "STOPPED")
    with pytest.raises(AgentError) as info:
        async with aioecs.protect_task(expires_in=timedelta(minutes=5)):
            pytest.fail("a stopped task was protected")
    assert info.value.code == "TASK_NOT_VALID"
    assert info.value.request_id


async def test_agent_refuses_what_the_agent_refuses(local: LocalECS) -> None:
    (arn,) = local.seed_tasks(cluster="prod")
    env = local.task_environment(arn)
    state = env["ECS_AGENT_URI"] + "/task-protection/v1/state"
    credentials = env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    async with aiohttp.ClientSession() as http:
        async with http.put(state, json={"ExpiresInMinutes": 5}) as resp:
            assert resp.status == 400
            assert (await resp.json())["error"]["Code"] == "InvalidParameterException"
        async with http.get(state) as resp:
            assert (await resp.json())["protection"] == {"ProtectionEnabled": False, "TaskArn": arn}
        async with http.get(credentials, headers={"Authorization": "wrong"}) as resp:
            assert resp.status == 401
        async with http.get(local.endpoint_url + "/v4/unknown/task") as resp:
            assert resp.status == 404


async def test_task_role_credentials_sign_the_workers_calls(
    local: LocalECS, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing but the task's environment: no keys, no profile (hermetic_env).
    (arn,) = local.seed_tasks(cluster="prod")
    enter(monkeypatch, local.task_environment(arn))
    async with ECSClient() as ecs:
        assert (await ecs.list_tasks(cluster="prod")).task_arns == [arn]
    # The same call signed with a key LocalECS does not know is refused: the worker's call
    # went through only because it signed with the issued task role credentials.
    async with local.client(
        credentials={"access_key_id": "AKIDX", "secret_access_key": "x"}
    ) as bad:
        with pytest.raises(ECSError) as info:
            await bad.list_tasks(cluster="prod")
    assert info.value.code == "UnrecognizedClientException"
