"""LocalECS over real HTTP on loopback, judged by botocore: its ECS client, its service model
(every member we send must exist there) and its SigV4 signer."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from aioecs.errors import ClientException
from aioecs.testing import LocalECS
from aioecs.testing._encoding import encode
from aioecs.testing._state import EcsState

TARGET = "AmazonEC2ContainerServiceV20141113."
START = 1_700_000_000.123  # a fake clock start with a millisecond fraction
PREFIX = "arn:aws:ecs:us-east-1:123456789012:"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
MODEL = botocore.session.get_session().get_service_model("ecs")


class FakeClock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, start: float = START) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def local(clock: FakeClock) -> AsyncIterator[LocalECS]:
    async with LocalECS(clock=clock, seed=42) as server:
        yield server


def client(local: LocalECS, *, access_key: str | None = None, secret: str | None = None) -> Any:
    key, default_secret = local.credentials
    return boto3.client(
        "ecs",
        endpoint_url=local.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=access_key or key,
        aws_secret_access_key=secret or default_secret,
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def ecs(local: LocalECS) -> Any:
    return client(local)


async def call(ecs: Any, operation: str, **params: Any) -> dict[str, Any]:
    """A blocking boto3 call, off the event loop the server runs on."""
    result: dict[str, Any] = await asyncio.to_thread(getattr(ecs, operation), **params)
    return result


async def error(ecs: Any, operation: str, **params: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        await call(ecs, operation, **params)
    response = info.value.response
    status = response["ResponseMetadata"]["HTTPStatusCode"]
    return response["Error"]["Code"], response["Error"]["Message"], status


@dataclass
class Raw:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    text: str


async def raw(
    local: LocalECS,
    operation: str,
    payload: dict[str, Any] | None = None,
    *,
    credentials: tuple[str, str] | None = None,
    sign: bool = True,
    region: str = "us-east-1",
    tamper: bytes | None = None,
) -> Raw:
    """One request signed by botocore's SigV4 and sent with aiohttp; the undecoded answer."""
    body = json.dumps(payload or {}).encode()
    request = AWSRequest(
        method="POST",
        url=local.endpoint_url + "/",
        data=body,
        headers={"X-Amz-Target": TARGET + operation, "Content-Type": "application/x-amz-json-1.1"},
    )
    if sign:
        SigV4Auth(Credentials(*(credentials or local.credentials)), "ecs", region).add_auth(request)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            local.endpoint_url + "/", data=tamper or body, headers=dict(request.headers.items())
        ) as response,
    ):
        text = await response.text()
        return Raw(response.status, dict(response.headers), json.loads(text), text)


def assert_shape(value: Any, shape: Any, path: str = "$") -> None:
    """``value`` uses only members botocore's ECS model knows, with the right JSON types;
    timestamps are epoch seconds with at most millisecond precision."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), path
        for key, item in value.items():
            assert key in shape.members, f"{path}.{key} is not a member of {shape.name}"
            assert_shape(item, shape.members[key], f"{path}.{key}")
    elif kind == "list":
        assert isinstance(value, list), path
        for i, item in enumerate(value):
            assert_shape(item, shape.member, f"{path}[{i}]")
    elif kind == "map":
        assert isinstance(value, dict), path
    elif kind == "string":
        assert isinstance(value, str), path
        if shape.enum:
            assert value in shape.enum, f"{path}: {value!r} not in {shape.enum}"
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), path
    elif kind == "boolean":
        assert isinstance(value, bool), path
    elif kind == "timestamp":
        assert isinstance(value, (int, float)) and not isinstance(value, bool), path
        assert abs(value * 1000 - round(value * 1000)) < 1e-3, f"{path}: {value} below ms"
    elif kind in ("double", "float"):
        assert isinstance(value, (int, float)), path


def output_shape(operation: str) -> Any:
    return MODEL.operation_model(operation).output_shape


async def fargate_definition(ecs: Any, family: str = "fg") -> str:
    result = await call(
        ecs,
        "register_task_definition",
        family=family,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[
            {"name": "app", "image": "app:1", "portMappings": [{"containerPort": 8080}]}
        ],
    )
    arn: str = result["taskDefinition"]["taskDefinitionArn"]
    return arn


async def ec2_setup(ecs: Any, instances: int = 2) -> list[str]:
    """The default cluster with a bridge-mode task definition ``hello`` and some instances."""
    await call(ecs, "create_cluster")
    await call(
        ecs,
        "register_task_definition",
        family="hello",
        containerDefinitions=[
            {
                "name": "wordpress",
                "image": "wordpress",
                "memory": 500,
                "portMappings": [{"containerPort": 80}],
            },
            {"name": "mysql", "image": "mysql", "memory": 500, "cpu": 10},
        ],
    )
    arns = []
    for _ in range(instances):
        result = await call(ecs, "register_container_instance")
        arns.append(result["containerInstance"]["containerInstanceArn"])
    return arns


# --- ListTasks ------------------------------------------------------------------------------


async def test_list_tasks_pages_every_arn_exactly_once(local: LocalECS, ecs: Any) -> None:
    seeded = local.seed_tasks(250, cluster="prod")
    seen: list[str] = []
    tokens: list[str] = []
    params: dict[str, Any] = {"cluster": "prod", "maxResults": 100}
    while True:
        page = await call(ecs, "list_tasks", **params)
        seen += page["taskArns"]
        if "nextToken" not in page:
            break
        tokens.append(page["nextToken"])
        params["nextToken"] = page["nextToken"]
    assert [len(seen)] == [250] and sorted(seen) == sorted(seeded)
    assert len(tokens) == 2 and len(set(tokens)) == 2
    for token in tokens:  # opaque: no ARN, id or bare offset in sight
        assert "arn:" not in token and not token.isdigit()
        assert not any(arn.rsplit("/", 1)[1] in token for arn in seeded)

    # botocore's own paginator agrees, with another page size
    def paginate() -> list[str]:
        pages = ecs.get_paginator("list_tasks").paginate(
            cluster="prod", PaginationConfig={"PageSize": 7}
        )
        return [arn for page in pages for arn in page["taskArns"]]

    assert sorted(await asyncio.to_thread(paginate)) == sorted(seeded)


async def test_list_tasks_default_page_is_100(local: LocalECS, ecs: Any) -> None:
    local.seed_tasks(150)
    page = await call(ecs, "list_tasks")
    assert len(page["taskArns"]) == 100 and "nextToken" in page


@pytest.mark.parametrize("size", [0, 101, -1])
async def test_list_tasks_rejects_max_results_out_of_range(
    local: LocalECS, ecs: Any, size: int
) -> None:
    local.seed_tasks(1)
    code, _, status = await error(ecs, "list_tasks", maxResults=size)
    assert (code, status) == ("InvalidParameterException", 400)


@pytest.mark.parametrize(
    "token", ["garbage", "bm90LWpzb24=", "eyJrIjoiY2x1c3RlcnMiLCJhZnRlciI6MX0="]
)
async def test_list_tasks_rejects_a_bad_token(local: LocalECS, ecs: Any, token: str) -> None:
    local.seed_tasks(3)
    code, message, _ = await error(ecs, "list_tasks", nextToken=token)
    assert code == "InvalidParameterException" and "nextToken" in message


async def test_list_tasks_defaults_to_desired_status_running(local: LocalECS, ecs: Any) -> None:
    running = local.seed_tasks(3)
    stopped = local.seed_tasks(2, desired_status="STOPPED")
    pending = local.seed_tasks(2, last_status="PENDING")  # desiredStatus RUNNING
    assert sorted((await call(ecs, "list_tasks"))["taskArns"]) == sorted(running + pending)
    listed = await call(ecs, "list_tasks", desiredStatus="STOPPED")
    assert sorted(listed["taskArns"]) == sorted(stopped)
    # ECS never sets desiredStatus PENDING, so this filter finds nothing (as documented)
    assert (await call(ecs, "list_tasks", desiredStatus="PENDING"))["taskArns"] == []


async def test_list_tasks_filters(local: LocalECS, ecs: Any) -> None:
    web = local.seed_tasks(5, cluster="c", family="web")
    worker = local.seed_tasks(4, cluster="c", family="worker", started_by="batch-7")
    api = local.seed_tasks(3, cluster="c", family="web", service_name="api")
    fargate = local.seed_tasks(2, cluster="c", family="fg", launch_type="FARGATE")
    stopped_web = local.seed_tasks(2, cluster="c", family="web", desired_status="STOPPED")

    async def listed(**filters: Any) -> list[str]:
        return sorted((await call(ecs, "list_tasks", cluster="c", **filters))["taskArns"])

    assert await listed(family="web") == sorted(web + api)
    assert await listed(family="web", desiredStatus="STOPPED") == sorted(stopped_web)
    assert await listed(startedBy="batch-7") == sorted(worker)
    assert await listed(startedBy="batch-7", desiredStatus="STOPPED") == []
    assert await listed(serviceName="api") == sorted(api)
    assert await listed(launchType="FARGATE") == sorted(fargate)
    assert await listed(launchType="EC2") == sorted(web + worker + api)
    assert await listed(family="web", launchType="EC2") == sorted(web + api)
    assert await listed(family="nope") == []
    assert await listed(daemonName="agent") == []  # no daemons here: never "all tasks"

    # containerInstance, by full ARN or by id
    described = await call(ecs, "describe_tasks", cluster="c", tasks=web[:1])
    instance = described["tasks"][0]["containerInstanceArn"]
    on_instance = await listed(containerInstance=instance)
    assert web[0] in on_instance and set(on_instance) <= set(web + worker + api)
    assert await listed(containerInstance=instance.rsplit("/", 1)[1]) == on_instance

    # startedBy must be the only filter besides cluster and desiredStatus, as in ECS
    code, message, _ = await error(ecs, "list_tasks", cluster="c", startedBy="x", family="web")
    assert (code, message) == (
        "InvalidParameterException",
        "cannot specify startedBy with other arguments",
    )
    code, _, _ = await error(ecs, "list_tasks", cluster="c", serviceName="no-such-service")
    assert code == "ServiceNotFoundException"
    code, _, _ = await error(ecs, "list_tasks", cluster="c", family="web:1")
    assert code == "InvalidParameterException"
    code, message, _ = await error(ecs, "list_tasks", cluster="c", desiredStatus="DONE")
    assert code == "InvalidParameterException" and "desiredStatus" in message


async def test_list_tasks_cluster_by_name_or_arn(local: LocalECS, ecs: Any) -> None:
    arns = local.seed_tasks(2, cluster="prod")
    by_arn = await call(ecs, "list_tasks", cluster=PREFIX + "cluster/prod")
    assert sorted(by_arn["taskArns"]) == sorted(arns)
    for cluster in ("nope", "PROD", "arn:aws:ecs:us-east-1:999999999999:cluster/prod", None):
        params = {} if cluster is None else {"cluster": cluster}  # None: "default", absent
        code, message, status = await error(ecs, "list_tasks", **params)
        assert (code, message, status) == ("ClusterNotFoundException", "Cluster not found.", 400)


async def test_list_tasks_paging_survives_tasks_stopping_between_pages(
    local: LocalECS, ecs: Any
) -> None:
    arns = local.seed_tasks(30)
    first = await call(ecs, "list_tasks", maxResults=10)
    for arn in arns[5:25:2]:  # some already listed, some not
        local.stop_task(arn)
    rest = await call(ecs, "list_tasks", maxResults=100, nextToken=first["nextToken"])
    listed = first["taskArns"] + rest["taskArns"]
    assert len(listed) == len(set(listed))
    assert set(listed) >= {a for a in arns if a not in arns[5:25:2]}


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(0, 250),
    size=st.integers(1, 100),
    stops=st.lists(st.integers(0, 249), max_size=40),
)
def test_list_tasks_paging_property(count: int, size: int, stops: list[int]) -> None:
    """Any page size, with tasks stopping between pages: nothing twice, and every task that
    stayed RUNNING throughout exactly once. (The model directly: no HTTP, so it runs fast.)"""
    state = EcsState(region="us-east-1", account_id="123456789012", clock=lambda: START)
    arns = state.seed_tasks(
        count,
        cluster="p",
        family="web",
        launch_type="EC2",
        desired_status="RUNNING",
        last_status=None,
        started_by=None,
        service_name=None,
        group=None,
        tags=None,
        image="img",
    )
    to_stop = [arns[i] for i in stops if i < count]
    seen: list[str] = []
    token = None
    while True:
        params: dict[str, Any] = {"cluster": "p", "maxResults": size}
        if token:
            params["nextToken"] = token
        page = json.loads(encode(state.list_tasks(params)))
        seen += page["taskArns"]
        if to_stop:
            arn = to_stop.pop()
            state.request_stop(state.tasks[arn], None, state.now_ms())
        token = page.get("nextToken")
        if not token:
            break
    stopped = {arns[i] for i in stops if i < count}
    assert len(seen) == len(set(seen))
    assert set(seen) >= set(arns) - stopped
    assert set(seen) <= set(arns)


# --- DescribeTasks --------------------------------------------------------------------------


async def test_describe_tasks_reports_missing_tasks(local: LocalECS, ecs: Any) -> None:
    arns = local.seed_tasks(2, cluster="prod")
    other = local.seed_tasks(1, cluster="other")
    missing = PREFIX + "task/prod/0123456789abcdef0123456789abcdef"
    task_id = arns[1].rsplit("/", 1)[1]
    result = await call(
        ecs,
        "describe_tasks",
        cluster="prod",
        tasks=[arns[0], missing, task_id, other[0], "ffffffffffffffffffffffffffffffff"],
    )
    assert [t["taskArn"] for t in result["tasks"]] == arns
    assert result["failures"] == [
        {"arn": missing, "reason": "MISSING"},
        {"arn": other[0], "reason": "MISSING"},  # exists, but in another cluster
        {"arn": PREFIX + "task/prod/ffffffffffffffffffffffffffffffff", "reason": "MISSING"},
    ]


async def test_describe_tasks_limits(local: LocalECS, ecs: Any) -> None:
    arns = local.seed_tasks(101)
    assert len((await call(ecs, "describe_tasks", tasks=arns[:100]))["tasks"]) == 100
    code, message, status = await error(ecs, "describe_tasks", tasks=arns)
    assert (code, status) == ("InvalidParameterException", 400) and "100" in message
    code, _, _ = await error(ecs, "describe_tasks", tasks=[])
    assert code == "InvalidParameterException"
    code, _, _ = await error(ecs, "describe_tasks", tasks=arns[:1], include=["NOPE"])
    assert code == "InvalidParameterException"
    code, _, _ = await error(ecs, "describe_tasks", cluster="nope", tasks=arns[:1])
    assert code == "ClusterNotFoundException"


async def test_describe_tasks_includes_tags_only_when_asked(local: LocalECS, ecs: Any) -> None:
    (arn,) = local.seed_tasks(1, tags={"team": "core", "env": "test"})
    plain = (await call(ecs, "describe_tasks", tasks=[arn]))["tasks"][0]
    assert "tags" not in plain
    tagged = (await call(ecs, "describe_tasks", tasks=[arn], include=["TAGS"]))["tasks"][0]
    assert tagged["tags"] == [{"key": "team", "value": "core"}, {"key": "env", "value": "test"}]
    # the cached untagged form is not polluted by the tagged one
    assert "tags" not in (await call(ecs, "describe_tasks", tasks=[arn]))["tasks"][0]


async def test_describe_tasks_wire_form(local: LocalECS, clock: FakeClock) -> None:
    """The raw JSON: camelCase members of botocore's model, epoch seconds with milliseconds."""
    (arn,) = local.seed_tasks(1, cluster="prod", family="web", tags={"k": "v"})
    (fg,) = local.seed_tasks(1, cluster="prod", family="fg", launch_type="FARGATE")
    local.stop_task(arn, reason="scale in")
    response = await raw(
        local, "DescribeTasks", {"cluster": "prod", "tasks": [arn, fg], "include": ["TAGS"]}
    )
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert UUID_RE.match(response.headers["x-amzn-RequestId"])
    assert_shape(response.body, output_shape("DescribeTasks"))
    stopped, running = response.body["tasks"]

    # timestamps: JSON numbers, millisecond fractions, in lifecycle order
    assert stopped["stoppedAt"] == START and stopped["stoppingAt"] == START
    assert re.search(r'"stoppedAt":1700000000\.123[,}]', response.text)
    order = ["createdAt", "connectivityAt", "pullStartedAt", "pullStoppedAt", "startedAt"]
    stamps = [stopped[k] for k in [*order, "stoppingAt", "executionStoppedAt", "stoppedAt"]]
    assert stamps == sorted(stamps) and len(set(stamps[:5])) == 5
    assert stopped["lastStatus"] == stopped["desiredStatus"] == "STOPPED"
    assert stopped["stopCode"] == "UserInitiated" and stopped["stoppedReason"] == "scale in"
    assert stopped["containers"][0]["exitCode"] == 143
    assert stopped["tags"] == [{"key": "k", "value": "v"}]

    # EC2 (bridge) vs Fargate (awsvpc) networking
    assert stopped["containerInstanceArn"].startswith(PREFIX + "container-instance/prod/")
    assert running["launchType"] == "FARGATE" and "containerInstanceArn" not in running
    (attachment,) = running["attachments"]
    details = {d["name"]: d["value"] for d in attachment["details"]}
    assert attachment["type"] == "ElasticNetworkInterface" and attachment["status"] == "ATTACHED"
    (interface,) = running["containers"][0]["networkInterfaces"]
    assert interface == {
        "attachmentId": attachment["id"],
        "privateIpv4Address": details["privateIPv4Address"],
    }
    assert details["networkInterfaceId"].startswith("eni-")
    assert running["platformVersion"] and running["ephemeralStorage"] == {"sizeInGiB": 20}


async def test_describe_tasks_parsed_by_botocore(local: LocalECS, ecs: Any) -> None:
    (arn,) = local.seed_tasks(1, cluster="prod")
    task = (await call(ecs, "describe_tasks", cluster="prod", tasks=[arn]))["tasks"][0]
    created = task["createdAt"]
    assert isinstance(created, datetime)
    assert created.astimezone(timezone.utc).timestamp() == pytest.approx(task_created(local, arn))
    assert created.microsecond % 1000 == 0 and created.microsecond != 0
    assert task["taskArn"] == arn and task["clusterArn"] == PREFIX + "cluster/prod"
    assert task["taskDefinitionArn"] == PREFIX + "task-definition/web:1"
    (container,) = task["containers"]
    assert container["taskArn"] == arn and container["name"] == "web"
    assert container["containerArn"].startswith(PREFIX + "container/prod/")
    assert container["networkBindings"][0]["containerPort"] == 80
    for member in ("cpu", "memory", "group", "availabilityZone", "overrides", "version"):
        assert member in task


def task_created(local: LocalECS, arn: str) -> float:
    created: float = local.describe_task(arn)["createdAt"]
    return created


async def test_sample_responses_members_are_all_present(
    local: LocalECS, ecs: Any, shared_dir: Path
) -> None:
    """Every member in the API reference samples appears in ours, at the same places."""
    fixtures = shared_dir / "fixtures"
    sample = json.loads((fixtures / "describe_tasks.api_reference.json").read_text())
    instances = await ec2_setup(ecs, instances=1)
    started = await raw(
        local,
        "StartTask",
        {"taskDefinition": "hello:1", "containerInstances": instances, "startedBy": "me"},
    )
    ours = await raw(local, "DescribeTasks", {"tasks": [started.body["tasks"][0]["taskArn"]]})
    task = ours.body["tasks"][0]
    assert set(sample["tasks"][0]) <= set(task)
    assert set(sample["tasks"][0]["containers"][0]) <= set(task["containers"][0])
    assert set(sample["tasks"][0]["containers"][0]["networkBindings"][0]) <= set(
        task["containers"][0]["networkBindings"][0]
    )
    assert task["overrides"]["containerOverrides"] == [{"name": "wordpress"}, {"name": "mysql"}]

    start_sample = json.loads((fixtures / "start_task.api_reference.json").read_text())
    pending = started.body["tasks"][0]
    assert set(start_sample["tasks"][0]) <= set(pending)
    assert set(start_sample["tasks"][0]["containers"][0]) <= set(pending["containers"][0])
    assert pending["lastStatus"] == "PENDING" and pending["version"] == 1
    assert [c["lastStatus"] for c in pending["containers"]] == ["PENDING", "PENDING"]


# --- lifecycle ------------------------------------------------------------------------------


async def test_lifecycle_is_driven_by_time(clock: FakeClock) -> None:
    async with LocalECS(clock=clock, pending_seconds=5, stop_seconds=2, run_seconds=60) as local:
        ecs = client(local)
        await ec2_setup(ecs, instances=1)
        (task,) = (await call(ecs, "run_task", taskDefinition="hello"))["tasks"]
        arn = task["taskArn"]
        assert (task["lastStatus"], task["desiredStatus"]) == ("PENDING", "RUNNING")

        async def status() -> dict[str, Any]:
            result: dict[str, Any] = (await raw(local, "DescribeTasks", {"tasks": [arn]})).body
            return result["tasks"][0]

        clock.advance(4.999)
        assert (await status())["lastStatus"] == "PENDING"
        clock.advance(0.001)
        now = await status()
        assert now["lastStatus"] == "RUNNING" and now["startedAt"] == pytest.approx(START + 5)
        assert [c["lastStatus"] for c in now["containers"]] == ["RUNNING", "RUNNING"]

        stop = await call(ecs, "stop_task", task=arn, reason="bye")
        assert stop["task"]["desiredStatus"] == "STOPPED"
        assert stop["task"]["lastStatus"] == "RUNNING"  # still stopping
        assert (await call(ecs, "list_tasks"))["taskArns"] == []
        assert (await call(ecs, "list_tasks", desiredStatus="STOPPED"))["taskArns"] == [arn]
        clock.advance(2)
        stopped = await status()
        assert stopped["lastStatus"] == "STOPPED" and stopped["stoppedReason"] == "bye"
        assert stopped["stoppedAt"] - stopped["stoppingAt"] == pytest.approx(2)

        # run_seconds: tasks nobody stops exit by themselves
        (batch,) = (await call(ecs, "run_task", taskDefinition="hello"))["tasks"]
        clock.advance(5 + 61)
        done = (await call(ecs, "describe_tasks", tasks=[batch["taskArn"]]))["tasks"][0]
        assert (done["lastStatus"], done["desiredStatus"]) == ("STOPPED", "STOPPED")
        assert done["stopCode"] == "EssentialContainerExited"
        assert {c["exitCode"] for c in done["containers"]} == {0}
        cluster = (await call(ecs, "describe_clusters"))["clusters"][0]
        assert (cluster["runningTasksCount"], cluster["pendingTasksCount"]) == (0, 0)


async def test_lifecycle_explicit_controls(clock: FakeClock) -> None:
    async with LocalECS(clock=clock, pending_seconds=3600) as local:
        await _explicit_controls(local, client(local))


async def _explicit_controls(local: LocalECS, ecs: Any) -> None:
    pending = local.seed_tasks(3, last_status="PENDING")
    assert {local.describe_task(a)["lastStatus"] for a in pending} == {"PENDING"}

    local.set_task_status(pending[0], "RUNNING")
    assert local.describe_task(pending[0])["lastStatus"] == "RUNNING"
    local.set_task_status(pending[0], "STOPPED", exit_code=3, reason="crashed")
    crashed = (await call(ecs, "describe_tasks", tasks=[pending[0]]))["tasks"][0]
    assert crashed["desiredStatus"] == "STOPPED" and crashed["stoppedReason"] == "crashed"
    assert crashed["containers"][0]["exitCode"] == 3

    local.stop_task(pending[1], reason="not needed")  # stop_seconds=0: stopped at once
    stopped = (await call(ecs, "describe_tasks", tasks=[pending[1]]))["tasks"][0]
    assert (stopped["lastStatus"], stopped["stopCode"]) == ("STOPPED", "UserInitiated")
    assert "startedAt" not in stopped and "exitCode" not in stopped["containers"][0]

    with pytest.raises(ValueError):
        local.set_task_status(pending[2], "PENDING")
    with pytest.raises(KeyError):
        local.set_task_status(PREFIX + "task/default/nope", "RUNNING")
    running = await call(ecs, "list_tasks")
    assert running["taskArns"] == [pending[2]]


async def test_seeded_pending_tasks_start_after_pending_seconds(clock: FakeClock) -> None:
    async with LocalECS(clock=clock, pending_seconds=10) as local:
        arns = local.seed_tasks(2, last_status="PENDING")
        clock.advance(10)
        assert {local.describe_task(a)["lastStatus"] for a in arns} == {"RUNNING"}


# --- RunTask, StartTask, StopTask -----------------------------------------------------------


async def test_start_task_places_one_task_per_instance(local: LocalECS, ecs: Any) -> None:
    instances = await ec2_setup(ecs, instances=2)
    missing = PREFIX + "container-instance/default/0123456789abcdef0123456789abcdef"
    result = await call(
        ecs,
        "start_task",
        taskDefinition="hello:1",
        containerInstances=[instances[0], instances[1].rsplit("/", 1)[1], missing],
        startedBy="scheduler",
        group="batch",
        tags=[{"key": "a", "value": "b"}],
        overrides={"containerOverrides": [{"name": "mysql", "command": ["--quiet"]}]},
    )
    assert result["failures"] == [{"arn": missing, "reason": "MISSING"}]
    assert [t["containerInstanceArn"] for t in result["tasks"]] == instances
    for task in result["tasks"]:
        assert task["launchType"] == "EC2" and task["startedBy"] == "scheduler"
        assert task["group"] == "batch" and task["lastStatus"] == "PENDING"
        assert task["overrides"]["containerOverrides"][1] == {
            "name": "mysql",
            "command": ["--quiet"],
        }
    arns = [t["taskArn"] for t in result["tasks"]]
    listed = await call(ecs, "list_tasks", startedBy="scheduler")
    assert sorted(listed["taskArns"]) == sorted(arns)
    described = await call(ecs, "describe_tasks", tasks=arns, include=["TAGS"])
    ports = [t["containers"][0]["networkBindings"][0]["hostPort"] for t in described["tasks"]]
    assert all(32768 <= p <= 60999 for p in ports)
    assert described["tasks"][0]["tags"] == [{"key": "a", "value": "b"}]

    code, _, _ = await error(ecs, "start_task", taskDefinition="hello", containerInstances=[])
    assert code == "InvalidParameterException"
    code, message, _ = await error(
        ecs, "start_task", taskDefinition="nope", containerInstances=instances
    )
    assert (code, message) == ("ClientException", "TaskDefinition not found.")
    code, _, _ = await error(
        ecs,
        "start_task",
        taskDefinition="hello",
        containerInstances=instances,
        overrides={"containerOverrides": [{"name": "ghost"}]},
    )
    assert code == "InvalidParameterException"


async def test_run_task(local: LocalECS, ecs: Any) -> None:
    code, _, _ = await error(ecs, "run_task", taskDefinition="hello")
    assert code == "ClusterNotFoundException"
    await call(ecs, "create_cluster")
    await call(
        ecs,
        "register_task_definition",
        family="hello",
        containerDefinitions=[{"name": "a", "image": "busybox", "memory": 64}],
    )
    no_instances = await call(ecs, "run_task", taskDefinition="hello", count=2)
    assert no_instances["tasks"] == []
    assert len(no_instances["failures"]) == 2

    registered = await call(ecs, "register_container_instance")
    instance = registered["containerInstance"]["containerInstanceArn"]
    result = await call(ecs, "run_task", taskDefinition="hello:1", count=3, startedBy="job-1")
    assert len(result["tasks"]) == 3 and result["failures"] == []
    assert {t["containerInstanceArn"] for t in result["tasks"]} == {instance}
    assert {t["group"] for t in result["tasks"]} == {"family:hello"}

    for params in ({"count": 11}, {"count": 0}, {"launchType": "FARGATE"}):
        code, _, _ = await error(ecs, "run_task", taskDefinition="hello", **params)
        assert code == "InvalidParameterException", params
    code, _, _ = await error(ecs, "run_task", taskDefinition=PREFIX + "task-definition/hello:9")
    assert code == "ClientException"


async def test_run_task_fargate(local: LocalECS, ecs: Any) -> None:
    await call(ecs, "create_cluster", clusterName="fg")
    definition = await fargate_definition(ecs)
    code, message, _ = await error(
        ecs, "run_task", cluster="fg", taskDefinition=definition, launchType="FARGATE"
    )
    assert code == "InvalidParameterException" and "Network Configuration" in message
    result = await call(
        ecs,
        "run_task",
        cluster="fg",
        taskDefinition=definition,
        launchType="FARGATE",
        count=2,
        networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-12345678"]}},
    )
    tasks = result["tasks"]
    assert len(tasks) == 2 and all("containerInstanceArn" not in t for t in tasks)
    assert {t["launchType"] for t in tasks} == {"FARGATE"}
    assert {t["cpu"] for t in tasks} == {"256"} and {t["memory"] for t in tasks} == {"512"}
    details = {d["name"]: d["value"] for d in tasks[0]["attachments"][0]["details"]}
    assert details["subnetId"] == "subnet-12345678"
    listed = await call(ecs, "list_tasks", cluster="fg", launchType="FARGATE")
    assert len(listed["taskArns"]) == 2


async def test_run_task_is_idempotent_per_client_token(local: LocalECS, ecs: Any) -> None:
    await ec2_setup(ecs, instances=1)
    first = await call(ecs, "run_task", taskDefinition="hello", clientToken="token-1", count=2)
    again = await call(ecs, "run_task", taskDefinition="hello", clientToken="token-1", count=2)
    other = await call(ecs, "run_task", taskDefinition="hello", clientToken="token-2")
    arns = [t["taskArn"] for t in first["tasks"]]
    assert [t["taskArn"] for t in again["tasks"]] == arns
    assert other["tasks"][0]["taskArn"] not in arns
    assert len((await call(ecs, "list_tasks"))["taskArns"]) == 3


async def test_stop_task(local: LocalECS, ecs: Any) -> None:
    arns = local.seed_tasks(2, cluster="prod")
    stopped = await call(ecs, "stop_task", cluster="prod", task=arns[0].rsplit("/", 1)[1])
    assert stopped["task"]["taskArn"] == arns[0]
    assert stopped["task"]["stoppedReason"] == "Task stopped by user"
    again = await call(ecs, "stop_task", cluster="prod", task=arns[0], reason="twice")
    assert again["task"]["stoppedReason"] == "Task stopped by user"  # already stopping
    assert (await call(ecs, "list_tasks", cluster="prod"))["taskArns"] == [arns[1]]
    code, message, _ = await error(ecs, "stop_task", cluster="prod", task=PREFIX + "task/x/y")
    assert (code, message) == ("InvalidParameterException", "The referenced task was not found.")
    code, _, _ = await error(ecs, "stop_task", cluster="other", task=arns[1])
    assert code == "ClusterNotFoundException"


# --- clusters and task definitions ----------------------------------------------------------


async def test_clusters(local: LocalECS, ecs: Any) -> None:
    created = await call(
        ecs, "create_cluster", clusterName="alpha", tags=[{"key": "a", "value": "1"}]
    )
    assert created["cluster"]["clusterArn"] == PREFIX + "cluster/alpha"
    assert created["cluster"]["status"] == "ACTIVE"
    again = await call(ecs, "create_cluster", clusterName="alpha")
    assert again["cluster"]["clusterArn"] == created["cluster"]["clusterArn"]
    for name in ("beta", "gamma", "delta"):
        await call(ecs, "create_cluster", clusterName=name)
    local.seed_tasks(3, cluster="beta")
    local.state.pending_seconds = 3600.0  # or the next request would see it RUNNING
    local.seed_tasks(1, cluster="beta", last_status="PENDING")

    first = await call(ecs, "list_clusters", maxResults=3)
    rest = await call(ecs, "list_clusters", nextToken=first["nextToken"])
    assert [a.rsplit("/", 1)[1] for a in first["clusterArns"] + rest["clusterArns"]] == [
        "alpha",
        "beta",
        "gamma",
        "delta",
    ]
    assert "nextToken" not in rest
    code, _, _ = await error(ecs, "list_clusters", maxResults=101)
    assert code == "InvalidParameterException"

    described = await call(ecs, "describe_clusters", clusters=["beta", "nope"], include=["TAGS"])
    (beta,) = described["clusters"]
    assert (beta["runningTasksCount"], beta["pendingTasksCount"]) == (3, 1)
    assert beta["registeredContainerInstancesCount"] >= 1
    assert described["failures"] == [{"arn": PREFIX + "cluster/nope", "reason": "MISSING"}]
    code, _, _ = await error(ecs, "create_cluster", clusterName="bad name!")
    assert code == "InvalidParameterException"


async def test_delete_cluster_as_ecs_does(local: LocalECS, ecs: Any, clock: FakeClock) -> None:
    tasks = local.seed_tasks(2, cluster="ci", launch_type="FARGATE")
    local.seed_tasks(1, cluster="with-instances")  # EC2: registers container instances
    local.seed_tasks(1, cluster="with-service", launch_type="FARGATE", service_name="web")
    for name, code in (
        ("ci", "ClusterContainsTasksException"),
        ("with-instances", "ClusterContainsContainerInstancesException"),
        ("with-service", "ClusterContainsServicesException"),
    ):
        assert (await error(ecs, "delete_cluster", cluster=name))[0] == code
    local.stop_task(tasks[0])
    assert (await error(ecs, "delete_cluster", cluster="ci"))[0] == "ClusterContainsTasksException"
    local.stop_task(tasks[1])
    deleted = await call(ecs, "delete_cluster", cluster=PREFIX + "cluster/ci")
    assert (deleted["cluster"]["clusterName"], deleted["cluster"]["status"]) == ("ci", "INACTIVE")

    listed = await call(ecs, "list_clusters")
    assert PREFIX + "cluster/ci" not in listed["clusterArns"]
    described = await call(ecs, "describe_clusters", clusters=["ci"])
    assert [c["status"] for c in described["clusters"]] == ["INACTIVE"]
    for operation, params in (
        ("list_tasks", {"cluster": "ci"}),
        ("describe_tasks", {"cluster": "ci", "tasks": tasks}),
        ("delete_cluster", {"cluster": "ci"}),
    ):
        assert (await error(ecs, operation, **params))[0] == "ClusterNotFoundException"
    again = await call(ecs, "create_cluster", clusterName="ci")  # the name is free again
    assert again["cluster"]["status"] == "ACTIVE"
    assert (await call(ecs, "list_tasks", cluster="ci"))["taskArns"] == []


async def test_register_task_definition_revisions(local: LocalECS, ecs: Any) -> None:
    definition = [{"name": "a", "image": "busybox", "memory": 64}]
    first = await call(
        ecs, "register_task_definition", family="hello_world", containerDefinitions=definition
    )
    second = await call(
        ecs, "register_task_definition", family="hello_world", containerDefinitions=definition
    )
    assert first["taskDefinition"]["taskDefinitionArn"] == PREFIX + "task-definition/hello_world:1"
    assert second["taskDefinition"]["revision"] == 2
    assert second["taskDefinition"]["status"] == "ACTIVE"
    assert second["taskDefinition"]["containerDefinitions"][0]["essential"] is True
    code, message, _ = await error(
        ecs, "register_task_definition", family="bad:name", containerDefinitions=definition
    )
    assert (code, message) == ("ClientException", "Family contains invalid characters.")
    code, _, _ = await error(
        ecs,
        "register_task_definition",
        family="fg",
        requiresCompatibilities=["FARGATE"],
        containerDefinitions=definition,
    )
    assert code == "ClientException"


async def test_every_operation_answers_in_the_model_shape(local: LocalECS) -> None:
    """Raw responses of every operation use exactly botocore's member names and types."""
    calls: list[tuple[str, dict[str, Any]]] = [
        ("CreateCluster", {"clusterName": "shape", "tags": [{"key": "k", "value": "v"}]}),
        ("ListClusters", {"maxResults": 1}),
        ("DescribeClusters", {"clusters": ["shape"], "include": ["TAGS", "SETTINGS"]}),
        (
            "RegisterTaskDefinition",
            {
                "family": "shape",
                "containerDefinitions": [
                    {
                        "name": "c",
                        "image": "i",
                        "memory": 64,
                        "portMappings": [{"containerPort": 1}],
                    }
                ],
            },
        ),
        ("RegisterContainerInstance", {"cluster": "shape"}),
        ("RunTask", {"cluster": "shape", "taskDefinition": "shape", "count": 2}),
        ("ListTasks", {"cluster": "shape", "maxResults": 1}),
    ]
    bodies = {}
    for operation, payload in calls:
        response = await raw(local, operation, payload)
        assert response.status == 200, response.text
        assert_shape(response.body, output_shape(operation), operation)
        bodies[operation] = response.body
    instance = bodies["RegisterContainerInstance"]["containerInstance"]["containerInstanceArn"]
    task = bodies["RunTask"]["tasks"][0]["taskArn"]
    more = [
        (
            "StartTask",
            {"cluster": "shape", "taskDefinition": "shape", "containerInstances": [instance]},
        ),
        ("StopTask", {"cluster": "shape", "task": task}),
        ("DescribeTasks", {"cluster": "shape", "tasks": [task, "nope"], "include": ["TAGS"]}),
        ("DescribeTaskDefinition", {"taskDefinition": "shape:1", "include": ["TAGS"]}),
        ("ListTaskDefinitions", {"familyPrefix": "shape", "sort": "DESC", "maxResults": 1}),
        ("ListTaskDefinitionFamilies", {"familyPrefix": "sh", "status": "ALL"}),
    ]
    for operation, payload in more:
        response = await raw(local, operation, payload)
        assert response.status == 200, response.text
        assert_shape(response.body, output_shape(operation), operation)


# --- protocol: errors, signatures, latency, counters ----------------------------------------


async def test_error_wire_format(local: LocalECS) -> None:
    response = await raw(local, "ListTasks", {"cluster": "nope"})
    assert response.status == 400
    assert response.body == {"__type": "ClusterNotFoundException", "message": "Cluster not found."}
    assert UUID_RE.match(response.headers["x-amzn-RequestId"])

    unknown = await raw(local, "DeleteEverything", {})
    assert (unknown.status, unknown.body["__type"]) == (400, "UnknownOperationException")
    # It says what is there instead.
    assert unknown.body["message"].startswith("LocalECS does not emulate DeleteEverything; ")
    assert "DescribeTaskDefinition, DescribeTasks" in unknown.body["message"]
    assert UUID_RE.match(unknown.headers["x-amzn-RequestId"])

    local.seed_tasks(1)
    response = await raw(local, "ListTasks", {"maxResults": "ten"})
    assert (response.status, response.body["__type"]) == (400, "SerializationException")


async def test_signatures_are_verified(local: LocalECS) -> None:
    local.seed_tasks(1)
    key, secret = local.credentials
    assert (key, secret) == ("AKIDLOCALECS", "local-ecs-secret")
    good = await call(client(local), "list_tasks")
    assert len(good["taskArns"]) == 1

    code, message, status = await error(client(local, secret="wrong"), "list_tasks")
    assert (code, status) == ("InvalidSignatureException", 403)
    assert message.startswith("The request signature we calculated does not match")
    code, message, status = await error(client(local, access_key="AKIDNOBODY"), "list_tasks")
    assert (code, message, status) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
        403,
    )

    unsigned = await raw(local, "ListTasks", {}, sign=False)
    assert (unsigned.status, unsigned.body["__type"]) == (
        403,
        "MissingAuthenticationTokenException",
    )
    tampered = await raw(local, "ListTasks", {"cluster": "default"}, tamper=b'{"cluster":"x"}')
    assert (tampered.status, tampered.body["__type"]) == (403, "InvalidSignatureException")
    elsewhere = await raw(local, "ListTasks", {}, region="eu-west-1")
    assert elsewhere.status == 403 and "region" in elsewhere.body["message"]


async def test_signature_date_skew(local: LocalECS, monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.auth

    stale = datetime.now(timezone.utc).replace(tzinfo=None, year=2020)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: stale)
    response = await raw(local, "ListClusters", {})
    assert response.status == 403 and response.body["message"].startswith("Signature expired")


async def test_custom_credentials_and_verification_switch() -> None:
    async with LocalECS(credentials={"AKIDTEAM": "s3cret"}) as local:
        assert local.credentials == ("AKIDTEAM", "s3cret")
        assert "clusterArns" in await call(client(local), "list_clusters")
        code, _, _ = await error(client(local, access_key="AKIDLOCALECS"), "list_clusters")
        assert code == "UnrecognizedClientException"
    async with LocalECS(verify_signatures=False) as local:
        assert "clusterArns" in await call(client(local, secret="anything"), "list_clusters")
        assert (await raw(local, "ListClusters", {}, sign=False)).status == 200


async def test_latency_is_injected() -> None:
    async with LocalECS(latency_ms=150) as local:
        started = time.perf_counter()
        response = await raw(local, "ListClusters", {})
        assert response.status == 200
        assert time.perf_counter() - started >= 0.150
        local.latency_ms = 0  # adjustable while running
        started = time.perf_counter()
        await raw(local, "ListClusters", {})
        assert time.perf_counter() - started < 0.150 * 10  # generous: only "not delayed"


async def test_request_count(local: LocalECS, ecs: Any) -> None:
    local.seed_tasks(3)
    await call(ecs, "list_tasks")
    await call(ecs, "list_tasks", maxResults=2)
    await call(ecs, "describe_tasks", tasks=["x"])
    await error(client(local, secret="wrong"), "list_clusters")  # rejected ones count too
    await raw(local, "Nope", {})
    assert local.request_count == Counter(
        {"ListTasks": 2, "DescribeTasks": 1, "ListClusters": 1, "Nope": 1}
    )


async def test_concurrent_fan_out(local: LocalECS) -> None:
    """Hundreds of simultaneous connections: all answered, none dropped or mixed up."""
    arns = local.seed_tasks(2000, cluster="fan")
    pages = [arns[i : i + 10] for i in range(0, 2000, 10)]
    responses = await asyncio.gather(
        *(raw(local, "DescribeTasks", {"cluster": "fan", "tasks": page}) for page in pages)
    )
    assert [r.status for r in responses] == [200] * len(pages)
    assert [[t["taskArn"] for t in r.body["tasks"]] for r in responses] == pages
    assert local.request_count["DescribeTasks"] == 200


async def test_lifecycle_of_the_server() -> None:
    local = LocalECS()
    with pytest.raises(RuntimeError):
        _ = local.endpoint_url
    await local.start()
    assert re.match(r"^http://127\.0\.0\.1:\d+$", local.endpoint_url)
    assert (await raw(local, "ListClusters", {})).status == 200
    await local.close()
    await local.close()  # idempotent
    with pytest.raises(aiohttp.ClientConnectionError):
        await raw(local, "ListClusters", {})


async def test_seeding_is_fast_and_listable_at_scale(local: LocalECS, ecs: Any) -> None:
    started = time.perf_counter()
    arns = local.seed_tasks(10_000, cluster="big")
    assert time.perf_counter() - started < 10  # ~0.2-0.5 s; generous for slow CI
    assert len(set(arns)) == 10_000
    seen = 0
    token = None
    while True:
        params: dict[str, Any] = {"cluster": "big"}
        if token:
            params["nextToken"] = token
        page = (await raw(local, "ListTasks", params)).body
        seen += len(page["taskArns"])
        token = page.get("nextToken")
        if not token:
            break
    assert seen == 10_000
    assert local.request_count["ListTasks"] == 100


# --- task definition reads ---------------------------------------------------------------------


async def test_task_definition_reads(local: LocalECS) -> None:
    async with local.client() as ecs:
        for family in ("web", "web", "worker", "batch"):
            await ecs.register_task_definition(
                family=family,
                container_definitions=[
                    {"name": "app", "image": "app:1"},
                    {"name": "log", "image": "log:1", "essential": False},
                ],
                tags=[{"key": "team", "value": family}],
            )
        described = await ecs.describe_task_definition(task_definition="web", include=["TAGS"])
        assert described.task_definition is not None
        assert described.task_definition.task_definition_arn.endswith(":task-definition/web:2")
        essential = [c.essential for c in described.task_definition.container_definitions]
        assert essential == [True, False]
        assert [t.value for t in described.tags] == ["web"]
        plain = await ecs.describe_task_definition(task_definition="worker:1")
        assert plain.tags == []

        arns = [a async for a in ecs.paginate_list_task_definitions(max_results=1).items()]
        assert [a.rsplit("/", 1)[1] for a in arns] == ["batch:1", "web:1", "web:2", "worker:1"]
        newest = await ecs.list_task_definitions(family_prefix="web", sort="DESC")
        assert [a.rsplit("/", 1)[1] for a in newest.task_definition_arns] == ["web:2", "web:1"]
        inactive = await ecs.list_task_definitions(status="INACTIVE")
        assert inactive.task_definition_arns == []

        families = [
            f async for f in ecs.paginate_list_task_definition_families(max_results=2).items()
        ]
        assert families == ["batch", "web", "worker"]
        some = await ecs.list_task_definition_families(family_prefix="w")
        assert some.families == ["web", "worker"]
        with pytest.raises(ClientException):
            await ecs.describe_task_definition(task_definition="web:9")


async def test_set_task_status_takes_an_exit_code_per_container(local: LocalECS) -> None:
    async with local.client() as ecs:
        await ecs.register_task_definition(
            family="pair",
            container_definitions=[
                {"name": "app", "image": "app:1"},
                {"name": "proxy", "image": "envoy:1"},
                {"name": "log", "image": "log:1", "essential": False},
            ],
        )
    (arn,) = local.seed_tasks(1, cluster="prod", family="pair")
    with pytest.raises(ValueError, match="nope"):
        local.set_task_status(arn, "STOPPED", exit_code={"nope": 1})
    local.set_task_status(arn, "STOPPED", exit_code={"app": 2})
    task = local.describe_task(arn)
    codes = {c["name"]: c["exitCode"] for c in task["containers"]}
    # The others exit as LocalECS's conventions say: essential 0, non-essential 143.
    assert codes == {"app": 2, "proxy": 0, "log": 143}
    assert task["stopCode"] == "EssentialContainerExited"
