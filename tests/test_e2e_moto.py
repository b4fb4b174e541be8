"""End to end against moto's server (an ECS implementation nobody here wrote), with moto
verifying every request's SigV4 signature against an IAM key created in it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from aioecs import Credentials, ECSClient, models
from aioecs.errors import ClusterNotFoundException, ECSError, InvalidParameterException

from .servers import moto_server

REGION = "us-east-1"


@pytest.fixture(scope="module")
def moto() -> Iterator[dict[str, Any]]:
    import boto3

    with moto_server() as url:
        anonymous = {
            "endpoint_url": url,
            "region_name": REGION,
            "aws_access_key_id": "x",
            "aws_secret_access_key": "x",
        }
        iam = boto3.client("iam", **anonymous)
        iam.create_user(UserName="aioecs")
        iam.put_user_policy(
            UserName="aioecs",
            PolicyName="all",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                }
            ),
        )
        key = iam.create_access_key(UserName="aioecs")["AccessKey"]
        creds = Credentials(
            access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
        )
        signed = {
            **anonymous,
            "aws_access_key_id": creds.access_key_id,
            "aws_secret_access_key": creds.secret_access_key,
        }
        # EC2 StartTask needs a container instance registered from a real (moto) instance.
        ec2 = boto3.client("ec2", **signed)
        image = ec2.describe_images()["Images"][0]["ImageId"]
        instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]
        yield {"url": url, "credentials": creds, "instance_id": instance["InstanceId"]}


@pytest.fixture
async def ecs(moto: dict[str, Any]) -> AsyncIterator[ECSClient]:
    async with ECSClient(
        region=REGION, endpoint_url=moto["url"], credentials=moto["credentials"]
    ) as client:
        yield client


async def _cluster_with_instance(ecs: ECSClient, moto: dict[str, Any], name: str) -> str:
    await ecs.create_cluster(cluster_name=name)
    document = {
        "instanceId": moto["instance_id"],
        "region": REGION,
        "accountId": "123456789012",
        "availabilityZone": "us-east-1a",
        "instanceType": "t3.micro",
    }
    registered = await ecs.register_container_instance(
        cluster=name, instance_identity_document=json.dumps(document)
    )
    assert registered.container_instance is not None
    arn = registered.container_instance.container_instance_arn
    assert arn is not None
    return arn


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
    instance_arn = await _cluster_with_instance(ecs, moto, "e2e")
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
    await _cluster_with_instance(ecs, moto, "e2e-run")
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
