"""`ecs.deploy(...).wait()` against moto's server: what moto models of a deployment.

moto keeps one deployment per service: its id changes on `forceNewDeployment`, its
rolloutState is COMPLETED when the running count (MOTO_ECS_SERVICE_RUNNING, 0 by default)
reaches the desired count and IN_PROGRESS for ever otherwise. It does not move a deployment
along, record the task definition a deployment rolls out or rewrite its rolloutStateReason
(the entry keeps the service's first ones), trip a circuit breaker or roll back, and it has
no service deployment API (HTTP 500, retried, then left alone); so the rollback, failure
and supersession cases are tested against LocalECS (tests/integration).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from aioecs import ECSClient
from aioecs.errors import WaiterError

from ..servers import MOTO_REGION, moto_account


@pytest.fixture(scope="module")
def moto() -> Iterator[dict[str, Any]]:
    with moto_account() as account:
        yield account


@pytest.fixture
async def ecs(moto: dict[str, Any]) -> AsyncIterator[ECSClient]:
    async with ECSClient(
        region=MOTO_REGION, endpoint_url=moto["url"], credentials=moto["credentials"]
    ) as client:
        yield client


async def _service(ecs: ECSClient, name: str, desired: int) -> None:
    await ecs.create_cluster(cluster_name="deploys")
    for _ in range(2):
        await ecs.register_task_definition(
            family=name, container_definitions=[{"name": "web", "image": "nginx", "memory": 64}]
        )
    await ecs.create_service(
        cluster="deploys",
        service_name=name,
        task_definition=f"{name}:1",
        desired_count=desired,
        deployment_configuration={"deployment_circuit_breaker": {"enable": True, "rollback": True}},
    )


async def test_deploy_and_wait_completes(ecs: ECSClient) -> None:
    await _service(ecs, "web", desired=0)  # 0 running of 0: moto says COMPLETED
    before = await ecs.describe_services(cluster="deploys", services=["web"])
    old_id = before.services[0].deployments[0].id
    rollout = await ecs.deploy(
        cluster="deploys", service="web", task_definition="web:2", force_new_deployment=True
    )
    result = await rollout.wait(timeout=30, interval=0.1)
    assert rollout.deployment_id != old_id  # the id of the deployment this update started
    assert (result.status, result.succeeded) == ("COMPLETED", True)
    # moto keeps the reason it wrote at creation, naming the deployment's first id.
    assert result.reason is not None and result.reason.endswith(" completed.")
    assert result.service_deployment_status is None  # moto has no service deployment API


async def test_a_deployment_that_never_ends_meets_the_deadline(ecs: ECSClient) -> None:
    await _service(ecs, "api", desired=1)  # 0 running of 1: IN_PROGRESS for ever
    rollout = await ecs.deploy(
        cluster="deploys", service="api", task_definition="api:2", force_new_deployment=True
    )
    with pytest.raises(WaiterError) as caught:
        await rollout.wait(timeout=0.5, interval=0.1)
    assert rollout.deployment_id in str(caught.value)
    assert "rolloutState IN_PROGRESS" in str(caught.value)
