"""End to end against moto's server (an ECS implementation nobody here wrote), with moto
verifying every request's SigV4 signature against an IAM key created in it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from aioecs import Credentials, ECSClient, models
from aioecs.errors import ClusterNotFoundException, ECSError, InvalidParameterException

from ..servers import MOTO_REGION as REGION
from ..servers import moto_account, moto_cluster_with_instance


@pytest.fixture(scope="module")
def moto() -> Iterator[dict[str, Any]]:
    with moto_account() as account:
        yield account


@pytest.fixture
async def ecs(moto: dict[str, Any]) -> AsyncIterator[ECSClient]:
    async with ECSClient(
        region=REGION, endpoint_url=moto["url"], credentials=moto["credentials"]
    ) as client:
        yield client


async def _register_web(ecs: ECSClient) -> str:
    out = await ecs.register_task_definition(
        family="web",
        container_definitions=[{"name": "web", "image": "nginx", "memory": 128, "cpu": 64}],
    )
    assert out.task_definition is not None and out.task_definition.task_definition_arn
    return out.task_definition.task_definition_arn


async def test_wrong_signature_is_rejected(moto: dict[str, Any]) -> None:
    wrong = Credentials(access_key_id=moto["credentials"].access_key_id, secret_access_key="nope")
    async with ECSClient(region=REGION, endpoint_url=moto["url"], credentials=wrong) as ecs:
        with pytest.raises(ECSError) as caught:
            await ecs.list_clusters()
    assert caught.value.status == 403
    assert caught.value.code == "SignatureDoesNotMatch"


async def test_start_list_describe(ecs: ECSClient, moto: dict[str, Any]) -> None:
    instance_arn = await moto_cluster_with_instance(ecs, moto, "e2e")
    task_definition = await _register_web(ecs)
    started = await ecs.start_task(
        cluster="e2e",
        task_definition=task_definition,
        container_instances=[instance_arn],
        overrides={"container_overrides": [{"name": "web", "command": ["run"]}]},
        started_by="aioecs-e2e",
        tags=[{"key": "team", "value": "core"}],
    )
    assert started.failures == []
    (task,) = started.tasks
    assert task.task_arn and task.container_instance_arn == instance_arn
    assert task.overrides is not None
    assert task.overrides.container_overrides[0].command == ["run"]

    page = await ecs.list_tasks(cluster="e2e")
    assert page.task_arns == [task.task_arn]
    for filters in (
        {"family": "web"},
        {"started_by": "aioecs-e2e"},
        {"container_instance": instance_arn},
        {"desired_status": "RUNNING"},
    ):
        assert (await ecs.list_tasks(cluster="e2e", **filters)).task_arns == [task.task_arn], (
            filters
        )
    assert (await ecs.list_tasks(cluster="e2e", family="other")).task_arns == []
    assert (await ecs.list_tasks(cluster="e2e", desired_status="STOPPED")).task_arns == []

    described = await ecs.describe_tasks(cluster="e2e", tasks=[task.task_arn], include=["TAGS"])
    (same,) = described.tasks
    assert same.task_arn == task.task_arn
    assert same.tags == [models.Tag(key="team", value="core")]


async def test_run_and_stop(ecs: ECSClient, moto: dict[str, Any]) -> None:
    await moto_cluster_with_instance(ecs, moto, "e2e-run")
    task_definition = await _register_web(ecs)
    run = await ecs.run_task(cluster="e2e-run", task_definition=task_definition, count=2)
    assert len(run.tasks) == 2
    arn = run.tasks[0].task_arn
    assert arn is not None
    stopped = await ecs.stop_task(cluster="e2e-run", task=arn, reason="done")
    assert stopped.task is not None and stopped.task.desired_status == "STOPPED"


async def test_unknown_cluster_is_typed(ecs: ECSClient) -> None:
    with pytest.raises(ClusterNotFoundException) as caught:
        await ecs.list_tasks(cluster="does-not-exist-" + "x" * 5, family="web")
    assert caught.value.status == 400
    assert caught.value.code == "ClusterNotFoundException"
    assert caught.value.message


async def test_bad_parameter_is_typed(ecs: ECSClient) -> None:
    await ecs.create_cluster(cluster_name="e2e-bad")
    with pytest.raises(InvalidParameterException) as caught:
        # Valid for the model, refused by the server: a launch type and a strategy together.
        await ecs.run_task(
            cluster="e2e-bad",
            task_definition="web",
            launch_type="FARGATE",
            capacity_provider_strategy=[{"capacity_provider": "FARGATE"}],
        )
    assert caught.value.status == 400
