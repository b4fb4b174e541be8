"""Jobs against moto's ECS (RunTask, StartTask, DescribeTasks, StopTask, DescribeTaskDefinition),
an implementation nobody here wrote, with its state manager moving tasks along: moto starts a
task RUNNING and advances it one state (DEACTIVATING, STOPPING, DEPROVISIONING, STOPPED) per
DescribeTasks call that shows it, writing no stop code."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from aioecs import ECSClient
from aioecs.errors import WaiterError

from ..servers import MOTO_REGION, moto_account, moto_cluster_with_instance

POLL = 0.05


def set_transition(url: str, progression: dict[str, Any]) -> None:
    """moto's state manager: how `ecs::task` advances (moto's own HTTP API)."""
    body = json.dumps({"model_name": "ecs::task", "transition": progression}).encode()
    request = urllib.request.Request(
        f"{url}/moto-api/state-manager/set-transition", data=body, method="POST"
    )
    urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture(scope="module")
def moto() -> Iterator[dict[str, Any]]:
    with moto_account() as account:
        yield account


@pytest.fixture
async def ecs(moto: dict[str, Any]) -> AsyncIterator[ECSClient]:
    set_transition(moto["url"], {"progression": "manual", "times": 1})
    async with ECSClient(
        region=MOTO_REGION, endpoint_url=moto["url"], credentials=moto["credentials"]
    ) as client:
        yield client


async def _cluster(ecs: ECSClient, moto: dict[str, Any], name: str) -> str:
    instance = await moto_cluster_with_instance(ecs, moto, name)
    await ecs.register_task_definition(
        family="batch",
        container_definitions=[{"name": "app", "image": "app", "memory": 16, "cpu": 8}],
    )
    return instance


async def test_run_job_waits_to_the_end(ecs: ECSClient, moto: dict[str, Any]) -> None:
    await _cluster(ecs, moto, "jobs-run")
    job = await ecs.run_job(cluster="jobs-run", task_definition="batch", count=12)
    assert len(job.task_arns) == 12 and job.failures == []
    result = await job.wait(timeout=60, interval=POLL)
    assert result.succeeded
    assert [o.task_arn for o in result.outcomes] == job.task_arns
    assert {o.last_status for o in result.outcomes} == {"STOPPED"}
    assert {o.cause for o in result.outcomes} == {"succeeded"}
    assert all(o.exit_codes == {"app": 0} for o in result.outcomes)


async def test_start_job_and_stop(ecs: ECSClient, moto: dict[str, Any]) -> None:
    instance = await _cluster(ecs, moto, "jobs-start")
    set_transition(moto["url"], {"progression": "manual", "times": 1000})  # keeps RUNNING
    job = await ecs.start_job(
        cluster="jobs-start", task_definition="batch", container_instances=[instance]
    )
    assert len(job.task_arns) == 1
    with pytest.raises(WaiterError) as caught:
        await job.wait(timeout=0.3, interval=POLL)
    assert job.task_arns[0] in str(caught.value)

    assert await job.stop(reason="enough") == job.task_arns
    result = await job.wait(timeout=60, interval=POLL)
    (outcome,) = result.outcomes
    assert outcome.cause == "stopped_by_user"
    assert outcome.stopped_reason == "enough"
    assert not result.succeeded
