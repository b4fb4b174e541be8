"""`ecs.deploy(...).wait()` and `aioecs deploy` against LocalECS's services, over loopback.

A task definition with `AIOECS_DEPLOYMENT=fail` has tasks that fail to start; the service's
deploymentCircuitBreaker decides whether that ends in a rollback, a failed deployment or a
deployment that never ends. Deployments take `pending_seconds` per step.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aioecs import ECSClient, HttpRequest, HttpResponse, Transport
from aioecs.errors import ServiceNotFoundException, WaiterError
from aioecs.testing import LocalECS

GOOD = [{"name": "web", "image": "nginx"}]
BAD = [{**GOOD[0], "environment": [{"name": "AIOECS_DEPLOYMENT", "value": "fail"}]}]
FAST = 0.05  # seconds a deployment step takes


def breaker(rollback: bool) -> dict[str, Any]:
    return {"deployment_circuit_breaker": {"enable": True, "rollback": rollback}}


async def prepare(ecs: ECSClient, config: dict[str, Any] | None = None) -> None:
    """Cluster `prod`; web:1 good, web:2 failing, web:3 good; service `web` on web:1, settled."""
    await ecs.create_cluster(cluster_name="prod")
    for containers in (GOOD, BAD, GOOD):
        await ecs.register_task_definition(family="web", container_definitions=containers)
    await ecs.create_service(
        cluster="prod",
        service_name="web",
        task_definition="web:1",
        desired_count=2,
        deployment_configuration=config,
    )
    await ecs.wait_services_stable(cluster="prod", services=["web"], delay=FAST, timeout=10)


@pytest.fixture
async def local() -> AsyncIterator[LocalECS]:
    async with LocalECS(pending_seconds=FAST, seed=3) as server:
        yield server


async def test_completed(local: LocalECS) -> None:
    async with local.client() as ecs:
        await prepare(ecs, breaker(True))
        rollout = await ecs.deploy(cluster="prod", service="web", task_definition="web:3")
        result = await rollout.wait(timeout=10, interval=FAST)
    assert (result.status, result.succeeded) == ("COMPLETED", True)
    assert result.deployment_id == rollout.deployment_id
    assert result.reason == f"ECS deployment {rollout.deployment_id} completed."
    assert result.task_definition == result.service_task_definition
    assert result.task_definition is not None and result.task_definition.endswith("web:3")
    assert (result.running_count, result.desired_count, result.failed_tasks) == (2, 2, 0)
    assert result.service_deployment_status == "SUCCESSFUL"
    assert result.created_at is not None and result.finished_at is not None
    assert result.finished_at > result.created_at


async def test_circuit_breaker_rollback_is_not_a_success(local: LocalECS) -> None:
    async with local.client() as ecs:
        await prepare(ecs, breaker(True))
        rollout = await ecs.deploy(cluster="prod", service="web", task_definition="web:2")
        result = await rollout.wait(timeout=10, interval=FAST)
        # What botocore's waiter (and `aws ecs wait services-stable`) says of the same service:
        stable = await ecs.wait_services_stable(cluster="prod", services=["web"], timeout=10)
    assert (result.status, result.succeeded) == ("ROLLED_BACK", False)
    assert result.reason == "ECS deployment circuit breaker: tasks failed to start."
    assert result.task_definition is not None and result.task_definition.endswith("web:2")
    assert result.service_task_definition is not None
    assert result.service_task_definition.endswith("web:1")
    assert result.rollback_deployment_id not in (None, rollout.deployment_id)
    assert result.failed_tasks is not None and result.failed_tasks >= 3  # the threshold
    assert result.service_deployment_status == "ROLLBACK_SUCCESSFUL"
    assert stable.services[0].task_definition == result.service_task_definition  # "success"


async def test_failed_without_rollback(local: LocalECS) -> None:
    async with local.client() as ecs:
        await prepare(ecs, breaker(False))
        rollout = await ecs.deploy(cluster="prod", service="web", task_definition="web:2")
        result = await rollout.wait(timeout=10, interval=FAST)
        service = (await ecs.describe_services(cluster="prod", services=["web"])).services[0]
    assert (result.status, result.succeeded) == ("FAILED", False)
    assert result.reason == "ECS deployment circuit breaker: tasks failed to start."
    assert result.rollback_deployment_id is None
    assert [d.status for d in service.deployments] == ["PRIMARY", "ACTIVE"]  # old tasks stay


async def test_superseded_by_another_update_is_stopped(local: LocalECS) -> None:
    async with local.client() as ecs:
        await prepare(ecs)
        local.state.pending_seconds = 60  # deployments from here on take a minute
        rollout = await ecs.deploy(cluster="prod", service="web", task_definition="web:3")
        other = await ecs.update_service(cluster="prod", service="web", force_new_deployment=True)
        result = await rollout.wait(timeout=10, interval=FAST)
    assert other.service is not None
    newer = next(d for d in other.service.deployments if d.status == "PRIMARY")
    assert newer.id != rollout.deployment_id
    assert (result.status, result.succeeded) == ("STOPPED", False)
    assert result.reason == f"superseded by deployment {newer.id} ({newer.task_definition})"
    assert result.service_deployment_status == "STOPPED"


async def test_deadline_is_a_waiter_error_naming_the_deployment(local: LocalECS) -> None:
    """No circuit breaker: failing tasks are retried for ever, the deadline ends the wait."""
    async with local.client() as ecs:
        await prepare(ecs)
        rollout = await ecs.deploy(cluster="prod", service="web", task_definition="web:2")
        with pytest.raises(WaiterError) as caught:
            await rollout.wait(timeout=0.3, interval=FAST)
    assert rollout.deployment_id in str(caught.value)
    assert "PRIMARY rolloutState IN_PROGRESS" in str(caught.value)
    assert local.request_count["DescribeServices"] > 2


class WithoutDeploymentApi:
    """A transport to LocalECS for an account without the service deployment API."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.refused = 0

    async def send(self, request: HttpRequest) -> HttpResponse:
        if request.operation == "DescribeServiceDeployments":
            self.refused += 1
            body = b'{"__type":"UnknownOperationException"}'
            return HttpResponse(400, {"x-amzn-RequestId": "r"}, body)
        return await self.inner.send(request)

    async def close(self) -> None:
        await self.inner.close()


async def test_rollback_told_by_describe_services_alone(local: LocalECS) -> None:
    from aioecs import AiohttpTransport

    transport = WithoutDeploymentApi(AiohttpTransport())
    async with local.client(transport=transport) as ecs:
        await prepare(ecs, breaker(True))
        rollout = await ecs.deploy(cluster="prod", service="web", task_definition="web:2")
        result = await rollout.wait(timeout=10, interval=FAST)
    assert result.status == "ROLLED_BACK"
    assert result.service_deployment_status is None
    assert transport.refused == 1  # asked once, then DescribeServices alone


# -- the emulator's services, as botocore sees them ------------------------------------------


def _botocore(local: LocalECS) -> Any:
    return botocore.session.get_session().create_client("ecs", **local.endpoint.client_kwargs())


async def test_service_operations_parse_with_botocore(local: LocalECS) -> None:
    async with local.client() as ecs:
        await prepare(ecs, breaker(True))
    client = _botocore(local)
    found = await asyncio.to_thread(
        client.describe_services, cluster="prod", services=["web", "nope"]
    )
    service = found["services"][0]
    assert service["deploymentConfiguration"]["deploymentCircuitBreaker"] == {
        "enable": True,
        "rollback": True,
    }
    assert service["deployments"][0]["rolloutState"] == "COMPLETED"
    assert found["failures"][0]["reason"] == "MISSING"
    listed = await asyncio.to_thread(client.list_service_deployments, cluster="prod", service="web")
    arn = listed["serviceDeployments"][0]["serviceDeploymentArn"]
    assert arn == service["currentServiceDeployment"]
    described = await asyncio.to_thread(
        client.describe_service_deployments, serviceDeploymentArns=[arn]
    )
    assert described["serviceDeployments"][0]["status"] == "SUCCESSFUL"


async def test_list_and_delete_services(local: LocalECS) -> None:
    async with local.client() as ecs:
        await prepare(ecs)
        for name in ("api", "worker"):
            await ecs.create_service(
                cluster="prod", service_name=name, task_definition="web:1", desired_count=0
            )
        first = await ecs.list_services(cluster="prod", max_results=2)
        rest = await ecs.list_services(cluster="prod", next_token=first.next_token)
        assert [a.rsplit("/", 1)[1] for a in first.service_arns + rest.service_arns] == [
            "web",
            "api",
            "worker",
        ]
        deleted = await ecs.delete_service(cluster="prod", service="web", force=True)
        assert deleted.service is not None and deleted.service.status == "DRAINING"
        assert len((await ecs.list_services(cluster="prod")).service_arns) == 2
        with pytest.raises(ServiceNotFoundException):
            await ecs.update_service(cluster="prod", service="ghost", desired_count=1)


# -- the command -----------------------------------------------------------------------------


async def _aioecs(local: LocalECS, home: Path, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"HOME": str(home), "NO_COLOR": "1", "AWS_EC2_METADATA_DISABLED": "true"})
    env.update(local.endpoint.env())
    del env["AWS_ENDPOINT_URL_ECS"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aioecs.cli",
        *args,
        "--endpoint-url",
        local.endpoint_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize(
    ("definition", "code", "status"), [("web:3", 0, "COMPLETED"), ("web:2", 1, "ROLLED_BACK")]
)
async def test_cli_deploy_wait_exits_0_only_when_completed(
    local: LocalECS, tmp_path: Path, definition: str, code: int, status: str
) -> None:
    async with local.client() as ecs:
        await prepare(ecs, breaker(True))
    args = ["deploy", "--cluster", "prod", "--service", "web", "--task-definition", definition]
    result = await _aioecs(local, tmp_path, *args, "--wait", "--poll-interval", str(FAST))
    assert result[0] == code, result
    assert f": {status}" in result[1]
    if not code:  # progress on stderr: at least the change to COMPLETED
        assert re.search(r"ecs-svc/\d+: PRIMARY COMPLETED, running 2/2, pending 0", result[2])
    if code:
        assert "error: deployment ecs-svc/" in result[2] and "ROLLED_BACK" in result[2]
        assert "reason: ECS deployment circuit breaker: tasks failed to start." in result[1]


async def test_cli_deploy_without_wait_and_its_deadline(local: LocalECS, tmp_path: Path) -> None:
    async with local.client() as ecs:
        await prepare(ecs)  # no circuit breaker: web:2 never ends
    args = ["deploy", "--cluster", "prod", "--service", "web", "--task-definition", "web:2"]
    code, out, err = await _aioecs(local, tmp_path, *args)
    assert code == 0 and "started: web:2" in out, (out, err)
    code, out, err = await _aioecs(local, tmp_path, *args, "--wait", "--timeout", "0.3")
    assert code == 1 and "did not end within 0.3 s" in err, (out, err)


async def test_demo_ends_with_a_rollback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"HOME": str(tmp_path), "NO_COLOR": "1"})
    args = ["demo", "--tasks", "100", "--latency-ms", "0", "--in-process", "--no-watch"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aioecs.cli", *args, stdout=asyncio.subprocess.PIPE, env=env
    )
    out = (await asyncio.wait_for(proc.communicate(), 60))[0].decode()
    assert proc.returncode == 0, out
    tail = out[out.index("Deploying to service web") :]
    assert "web:2: COMPLETED (succeeded)" in tail
    assert "web:3: ROLLED_BACK (not a success) - ECS deployment circuit breaker" in tail
    assert "rolling back to deployment ecs-svc/" in tail


async def test_nothing_to_roll_back_to_is_failed(local: LocalECS) -> None:
    """A service whose every deployment failed: the circuit breaker has no definition of
    before to go back to, so even with rollback on the deployment ends FAILED."""
    async with local.client() as ecs:
        await ecs.create_cluster(cluster_name="prod")
        await ecs.register_task_definition(family="web", container_definitions=BAD)
        await ecs.create_service(
            cluster="prod",
            service_name="web",
            task_definition="web:1",
            desired_count=2,
            deployment_configuration=breaker(True),
        )
        rollout = await ecs.deploy(cluster="prod", service="web", force_new_deployment=True)
        result = await rollout.wait(timeout=10, interval=FAST)
    assert (result.status, result.rollback_deployment_id) == ("FAILED", None)
    assert result.reason == "ECS deployment circuit breaker: tasks failed to start."


@settings(max_examples=30, deadline=None)
@given(
    desired=st.integers(1, 12),
    outcome=st.sampled_from(["COMPLETED", "ROLLED_BACK", "FAILED"]),
    jumps=st.lists(st.integers(1, 400), min_size=1, max_size=20),
    deployment_api=st.booleans(),
)
def test_the_verdict_does_not_depend_on_when_it_is_polled(
    desired: int, outcome: str, jumps: list[int], deployment_api: bool
) -> None:
    """The emulator's clock leaps by arbitrary amounts (ms per reading), so polls land
    anywhere: in the FAILED moment, or long after the rollback drained the failed deployment
    away. Whatever they see, with or without the service deployment API, the verdict is the
    same."""
    leaps = itertools.cycle(jumps)
    now = [1_700_000_000.0]

    def clock() -> float:
        now[0] += next(leaps) / 1000
        return now[0]

    async def scenario() -> str:
        from aioecs import AiohttpTransport

        transport: Transport = AiohttpTransport()
        if not deployment_api:
            transport = WithoutDeploymentApi(transport)
        local = LocalECS(pending_seconds=0.1, clock=clock)
        async with local, local.client(transport=transport) as ecs:
            await ecs.create_cluster(cluster_name="prod")
            for containers in (GOOD, BAD, GOOD):
                await ecs.register_task_definition(family="web", container_definitions=containers)
            await ecs.create_service(
                cluster="prod",
                service_name="web",
                task_definition="web:1",
                desired_count=desired,
                deployment_configuration=breaker(outcome != "FAILED"),
            )
            await ecs.wait_services_stable(
                cluster="prod", services=["web"], delay=0.001, timeout=30
            )
            target = "web:3" if outcome == "COMPLETED" else "web:2"
            rollout = await ecs.deploy(cluster="prod", service="web", task_definition=target)
            result = await rollout.wait(timeout=30, interval=0.001)
        return result.status

    assert asyncio.run(scenario()) == outcome
