"""End to end against `aioecs.testing.LocalECS`, which checks every signature with botocore's
signer and has the documented semantics moto lacks (paging, MISSING failures, limits).

Every response body the client receives here is also parsed by botocore's own JSON parser,
and the two results are compared field by field (the differential check).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timezone

import pytest

from aioecs import Credentials, ECSClient, ECSError, ValidationError
from aioecs import models as m
from aioecs.errors import ClusterNotFoundException, InvalidParameterException
from aioecs.testing import LocalECS

from ..conftest import RecordingTransport
from ..servers import client_for


@pytest.fixture
async def local() -> AsyncIterator[LocalECS]:
    async with LocalECS(seed=7) as server:
        yield server


@pytest.fixture
async def ecs(local: LocalECS, replies: RecordingTransport) -> AsyncIterator[ECSClient]:
    """A client whose every successful reply is decoded and compared with botocore's."""
    async with client_for(local, transport=replies) as c:
        yield c


@pytest.fixture
async def failing_ecs(local: LocalECS) -> AsyncIterator[ECSClient]:
    """A client for tests whose calls all fail: there is no reply to compare."""
    async with client_for(local) as c:
        yield c


async def _instance(ecs: ECSClient, cluster: str) -> str:
    await ecs.create_cluster(cluster_name=cluster)
    document = json.dumps({"instanceId": "i-0123456789abcdef0", "availabilityZone": "us-east-1a"})
    out = await ecs.register_container_instance(
        cluster=cluster, instance_identity_document=document
    )
    assert out.container_instance is not None and out.container_instance.container_instance_arn
    return out.container_instance.container_instance_arn


async def test_start_task_then_describe_with_tags(ecs: ECSClient) -> None:
    instance = await _instance(ecs, "prod")
    await ecs.register_task_definition(
        family="hello_world",
        container_definitions=[{"name": "web", "image": "nginx", "memory": 128}],
    )
    started = await ecs.start_task(
        cluster="prod",
        task_definition="hello_world",
        container_instances=[instance],
        overrides={"container_overrides": [{"name": "web", "command": ["run"]}]},
        started_by="e2e",
        tags=[m.Tag(key="team", value="core")],
    )
    (task,) = started.tasks
    assert task.task_arn and task.last_status in ("PENDING", "RUNNING")
    assert task.created_at is not None and task.created_at.tzinfo == timezone.utc
    assert task.overrides and task.overrides.container_overrides[0].command == ["run"]

    described = await ecs.describe_tasks(cluster="prod", tasks=[task.task_arn], include=["TAGS"])
    assert [t.task_arn for t in described.tasks] == [task.task_arn]
    assert described.tasks[0].tags == [m.Tag(key="team", value="core")]
    untagged = await ecs.describe_tasks(cluster="prod", tasks=[task.task_arn])
    assert untagged.tasks[0].tags == []


async def test_list_tasks_pages_and_filters(ecs: ECSClient, local: LocalECS) -> None:
    web = set(local.seed_tasks(230, cluster="prod", family="web"))
    api = set(local.seed_tasks(20, cluster="prod", family="api", started_by="deployer"))
    stopped = set(local.seed_tasks(5, cluster="prod", family="web", desired_status="STOPPED"))
    fargate = set(local.seed_tasks(3, cluster="prod", family="batch", launch_type="FARGATE"))

    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = await ecs.list_tasks(cluster="prod", max_results=40, next_token=token)
        seen += page.task_arns
        pages += 1
        token = page.next_token
        if not token:
            break
    assert pages == 7 and len(seen) == len(set(seen)) == 253
    assert set(seen) == web | api | fargate

    async def listed(**filters: object) -> set[str]:
        return {arn async for arn in ecs.paginate_list_tasks(cluster="prod", **filters).items()}  # type: ignore[arg-type]

    assert await listed(family="api") == api
    assert await listed(started_by="deployer") == api
    assert await listed(desired_status="STOPPED") == stopped
    assert await listed(launch_type="FARGATE") == fargate
    instance = local.describe_task(next(iter(api)))["containerInstanceArn"]
    by_instance = await listed(container_instance=instance)
    assert by_instance and by_instance <= web | api


async def test_describe_unknown_arn_is_a_typed_failure(ecs: ECSClient, local: LocalECS) -> None:
    (arn,) = local.seed_tasks(1, cluster="prod")
    ghost = arn.rsplit("/", 1)[0] + "/00000000000000000000000000000000"
    out = await ecs.describe_tasks(cluster="prod", tasks=[arn, ghost])
    assert [t.task_arn for t in out.tasks] == [arn]
    assert out.failures == [m.Failure(arn=ghost, reason="MISSING")]


async def test_timestamps_keep_milliseconds(ecs: ECSClient, local: LocalECS) -> None:
    (arn,) = local.seed_tasks(1, cluster="prod")
    wire = local.describe_task(arn)["createdAt"]
    (task,) = (await ecs.describe_tasks(cluster="prod", tasks=[arn])).tasks
    assert task.created_at == datetime.fromtimestamp(wire, timezone.utc)
    assert (
        task.created_at is not None and task.created_at.microsecond == round(wire % 1 * 1000) * 1000
    )


async def test_modeled_errors(failing_ecs: ECSClient, local: LocalECS) -> None:
    with pytest.raises(ClusterNotFoundException) as missing:
        await failing_ecs.list_tasks(cluster="nope")
    assert missing.value.status == 400 and missing.value.request_id
    assert "ClusterNotFoundException" in str(missing.value)
    local.seed_tasks(1, cluster="prod")
    with pytest.raises(InvalidParameterException) as bad:
        # Valid for the model, refused by ECS: startedBy cannot be combined with family.
        await failing_ecs.list_tasks(cluster="prod", started_by="me", family="web")
    assert bad.value.code == "InvalidParameterException"
    assert bad.value.request_id


async def test_over_the_limit_never_leaves_the_machine(
    failing_ecs: ECSClient, local: LocalECS
) -> None:
    arns = local.seed_tasks(101, cluster="prod")
    before = sum(local.request_count.values())
    with pytest.raises(ValidationError) as caught:
        await failing_ecs.describe_tasks(cluster="prod", tasks=arns)
    assert caught.value.problems[0][0] == "tasks"
    assert sum(local.request_count.values()) == before


async def test_wrong_secret_is_rejected(local: LocalECS) -> None:
    key, _ = local.credentials
    wrong = Credentials(access_key_id=key, secret_access_key="wrong")
    async with client_for(local, credentials=wrong) as ecs:
        with pytest.raises(ECSError) as caught:
            await ecs.list_clusters()
    assert caught.value.status == 403
    assert caught.value.code == "InvalidSignatureException"
    assert "wrong" not in str(caught.value)


async def test_client_without_context_manager(local: LocalECS) -> None:
    client = client_for(local)
    assert (await client.list_clusters()).cluster_arns == []
    await client.close()
    await client.close()  # idempotent
    with pytest.raises(RuntimeError):
        await client.list_clusters()
