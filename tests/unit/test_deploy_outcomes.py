"""How `Rollout.wait` reads the answers a real account gives, scripted through MockTransport.

Each test replays a sequence of DescribeServices answers shaped like ECS's (ids, statuses and
rolloutStateReason texts as ECS writes them), including the ones botocore's `services_stable`
waiter reads as success after a rollback (botocore #2865), and the cases where the service
deployment API is missing or adds the detail.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from aioecs import Credentials, ECSClient, HttpRequest, HttpResponse, MockTransport
from aioecs.errors import ClientClosedError, WaiterError

OURS, OLD, BACK, OTHER = "ecs-svc/1111", "ecs-svc/2222", "ecs-svc/3333", "ecs-svc/4444"
TD = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web"
SD_ARN = "arn:aws:ecs:eu-west-1:123456789012:service-deployment/prod/web/abc"
BREAKER_ROLLBACK = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}


def deployment(
    id: str, status: str, td: str, rollout: str | None, reason: str = ""
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": id,
        "status": status,
        "taskDefinition": f"{TD}:{td}",
        "desiredCount": 2,
        "runningCount": 2 if rollout == "COMPLETED" else 0,
        "pendingCount": 0,
        "failedTasks": 3 if rollout == "FAILED" else 0,
        "createdAt": 1.7e9,
        "updatedAt": 1.7e9 + 60,
    }
    if rollout is not None:
        out["rolloutState"] = rollout
        out["rolloutStateReason"] = reason or f"ECS deployment {id} {rollout.lower()}."
    return out


def service(*deployments: dict[str, Any], config: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "serviceArn": "arn:aws:ecs:eu-west-1:123456789012:service/prod/web",
        "serviceName": "web",
        "status": "ACTIVE",
        "desiredCount": 2,
        "deploymentConfiguration": config or {},
        "deployments": list(deployments),
        "currentServiceDeployment": SD_ARN,
    }


STARTED = service(
    deployment(OURS, "PRIMARY", "2", "IN_PROGRESS"),
    deployment(OLD, "ACTIVE", "1", "COMPLETED"),
    config=BREAKER_ROLLBACK,
)


class Script:
    """Answers UpdateService with `STARTED`, DescribeServices with `polls` in turn (the last
    for ever), DescribeServiceDeployments with `details` in turn or, if None, as an account
    without that API does."""

    def __init__(
        self, polls: list[dict[str, Any] | None], details: list[dict[str, Any]] | None = None
    ) -> None:
        self.polls = polls
        self.details = details
        self.operations: list[str] = []

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.operations.append(request.operation)
        if request.operation == "UpdateService":
            return _ok({"service": STARTED})
        if request.operation == "DescribeServices":
            found = self.polls.pop(0) if len(self.polls) > 1 else self.polls[0]
            if found is None:
                arn = STARTED["serviceArn"]
                return _ok({"services": [], "failures": [{"arn": arn, "reason": "MISSING"}]})
            return _ok({"services": [found], "failures": []})
        if request.operation == "DescribeServiceDeployments" and self.details is not None:
            detail = self.details.pop(0) if len(self.details) > 1 else self.details[0]
            return _ok({"serviceDeployments": [{"serviceDeploymentArn": SD_ARN, **detail}]})
        body = json.dumps({"__type": "UnknownOperationException"}).encode()
        return HttpResponse(400, {"x-amzn-RequestId": "r"}, body)


def _ok(body: dict[str, Any]) -> HttpResponse:
    return HttpResponse(200, {"x-amzn-RequestId": "r"}, json.dumps(body).encode())


@pytest.fixture
def client() -> Iterator[Any]:
    def make(script: Script) -> ECSClient:
        return ECSClient(
            region="eu-west-1",
            endpoint_url="https://ecs.example",
            credentials=Credentials(access_key_id="AKID", secret_access_key="s"),
            transport=MockTransport(script),
            rate_limits=False,
            max_attempts=1,
        )

    yield make


async def follow(client: Any, script: Script, **wait: Any) -> Any:
    async with client(script) as ecs:
        rollout = await ecs.deploy(cluster="prod", service="web", task_definition="web:2")
        assert rollout.deployment_id == OURS
        return await rollout.wait(interval=0.001, **({"timeout": 5.0} | wait))


async def test_completed(client: Any) -> None:
    script = Script([STARTED, service(deployment(OURS, "PRIMARY", "2", "COMPLETED"))])
    result = await follow(client, script)
    assert (result.status, result.succeeded) == ("COMPLETED", True)
    assert result.reason == f"ECS deployment {OURS} completed."
    assert result.running_count == 2 and result.task_definition == f"{TD}:2"


async def test_rollback_seen_failing_then_completing(client: Any) -> None:
    """The shape of a circuit breaker rollback: ours turns ACTIVE/FAILED, a new PRIMARY of the
    old definition says it is rolling back, completes, and ours is drained away. The last
    answer alone (one deployment, all running) is what `services_stable` calls success."""
    rolling = service(
        deployment(
            BACK,
            "PRIMARY",
            "1",
            "IN_PROGRESS",
            f"ECS deployment circuit breaker: rolling back to deploymentId {OLD}.",
        ),
        deployment(
            OURS, "ACTIVE", "2", "FAILED", "ECS deployment circuit breaker: tasks failed to start."
        ),
        config=BREAKER_ROLLBACK,
    )
    back = service(deployment(BACK, "PRIMARY", "1", "COMPLETED"), config=BREAKER_ROLLBACK)
    seen: list[Any] = []
    result = await follow(client, Script([STARTED, rolling, rolling, back]), on_change=seen.append)
    assert (result.status, result.succeeded) == ("ROLLED_BACK", False)
    # Progress: ours changed once as far as DescribeServices showed it (then it was gone).
    assert [(d.id, d.status, d.rollout_state) for d in seen] == [(OURS, "ACTIVE", "FAILED")]
    assert result.reason == "ECS deployment circuit breaker: tasks failed to start."
    assert result.rollback_deployment_id == BACK
    assert result.service_task_definition == f"{TD}:1" and result.task_definition == f"{TD}:2"
    assert result.failed_tasks == 3


async def test_rollback_between_two_polls(client: Any) -> None:
    """A long interval may never see ours FAILED: gone, and the service back on the old
    definition with a circuit breaker that rolls back. Not a success, not "stopped"."""
    back = service(deployment(BACK, "PRIMARY", "1", "COMPLETED"), config=BREAKER_ROLLBACK)
    result = await follow(client, Script([back]))
    assert result.status == "ROLLED_BACK"
    assert result.reason == f"the service went back to {TD}:1 (deployment {BACK})"
    assert result.service_deployment_status is None  # the API is missing here


async def test_the_deployment_api_settles_what_the_list_cannot(client: Any) -> None:
    """Ours vanished for a PRIMARY that gives no sign of a rollback: the service deployment
    API says it is rolling back (wait), then that the rollback succeeded."""
    other = service(deployment(BACK, "PRIMARY", "1", "COMPLETED"))  # no circuit breaker config
    details = [
        {"status": "ROLLBACK_IN_PROGRESS"},
        {"status": "ROLLBACK_SUCCESSFUL", "statusReason": "alarm web-5xx in ALARM"},
    ]
    script = Script([other], details)
    result = await follow(client, script)
    assert result.status == "ROLLED_BACK"
    assert result.reason == "alarm web-5xx in ALARM"
    assert result.service_deployment_status == "ROLLBACK_SUCCESSFUL"
    assert script.operations.count("DescribeServiceDeployments") == 2


async def test_failed_without_rollback(client: Any) -> None:
    failed = service(
        deployment(
            OURS, "PRIMARY", "2", "FAILED", "ECS deployment circuit breaker: tasks failed to start."
        ),
        deployment(OLD, "ACTIVE", "1", "COMPLETED"),
        config={"deploymentCircuitBreaker": {"enable": True, "rollback": False}},
    )
    result = await follow(client, Script([failed]))
    assert (result.status, result.succeeded) == ("FAILED", False)
    assert result.reason == "ECS deployment circuit breaker: tasks failed to start."


async def test_failed_primary_waits_for_the_rollback_it_was_configured_for(client: Any) -> None:
    failing = service(
        deployment(
            OURS, "PRIMARY", "2", "FAILED", "ECS deployment circuit breaker: tasks failed to start."
        ),
        deployment(OLD, "ACTIVE", "1", "COMPLETED"),
        config=BREAKER_ROLLBACK,
    )
    back = service(deployment(BACK, "PRIMARY", "1", "COMPLETED"), config=BREAKER_ROLLBACK)
    script = Script([failing, failing, back])
    result = await follow(client, script)
    assert result.status == "ROLLED_BACK"
    assert result.reason == "ECS deployment circuit breaker: tasks failed to start."
    assert script.operations.count("DescribeServiceDeployments") == 1  # missing: asked once


async def test_seen_failing_then_replaced_is_a_rollback_whatever_the_reason_says(
    client: Any,
) -> None:
    """An alarm rollback on a service without a circuit breaker: the only sign is that ours
    was seen FAILED before a new PRIMARY (whose reason names no rollback) replaced it."""
    failing = service(
        deployment(OURS, "ACTIVE", "2", "FAILED", "ECS deployment failed: alarm web-5xx."),
        deployment(BACK, "PRIMARY", "1", "IN_PROGRESS"),
    )
    back = service(deployment(BACK, "PRIMARY", "1", "COMPLETED"))
    result = await follow(client, Script([failing, back]))
    assert result.status == "ROLLED_BACK"
    assert result.reason == "ECS deployment failed: alarm web-5xx."


async def test_failed_rollback(client: Any) -> None:
    rolling = service(
        deployment(
            BACK,
            "PRIMARY",
            "1",
            "FAILED",
            "ECS deployment circuit breaker: tasks "
            f"failed to start; rolling back to deploymentId {OLD} failed.",
        ),
        config=BREAKER_ROLLBACK,
    )
    result = await follow(client, Script([rolling]))
    assert result.status == "FAILED"
    assert result.reason is not None and result.reason.startswith("the rollback failed: ")


async def test_superseded_is_stopped(client: Any) -> None:
    superseded = service(
        deployment(OTHER, "PRIMARY", "3", "IN_PROGRESS"),
        deployment(OURS, "ACTIVE", "2", "IN_PROGRESS"),
        deployment(OLD, "ACTIVE", "1", "COMPLETED"),
    )
    result = await follow(client, Script([superseded]))
    assert (result.status, result.succeeded) == ("STOPPED", False)
    assert result.reason == f"superseded by deployment {OTHER} ({TD}:3)"


@pytest.mark.parametrize("answer", ["MISSING", "DRAINING", "INACTIVE"])
async def test_deleted_service_is_stopped(client: Any, answer: str) -> None:
    """Just deleted, DescribeServices still shows the service, DRAINING then INACTIVE (with
    its deployments); later it is MISSING."""
    shown = None if answer == "MISSING" else {**STARTED, "status": answer}
    result = await follow(client, Script([shown]))
    assert result.status == "STOPPED" and result.reason == "the service was deleted"


async def test_without_rollout_states_steady_means_completed(client: Any) -> None:
    """A service behind a Classic Load Balancer has no rolloutState: one deployment with all
    its tasks running is the end (and no circuit breaker could have rolled it back)."""
    two = service(deployment(OURS, "PRIMARY", "2", None), deployment(OLD, "ACTIVE", "1", None))
    steady = service({**deployment(OURS, "PRIMARY", "2", None), "runningCount": 2})
    starting = service(deployment(OURS, "PRIMARY", "2", None))  # alone, 0 of 2 running
    script = Script([two, starting, steady])
    result = await follow(client, script)
    assert result.status == "COMPLETED"
    assert script.operations.count("DescribeServices") == 3


async def test_deadline_names_the_deployment_and_its_state(client: Any) -> None:
    script = Script([STARTED])
    with pytest.raises(WaiterError) as caught:
        await follow(client, script, timeout=0.05)
    text = str(caught.value)
    assert OURS in text and "IN_PROGRESS" in text and "running 0/2" in text
    assert script.operations.count("DescribeServices") > 1  # polled until the deadline


async def test_no_primary_to_follow_is_a_clear_error(client: Any) -> None:
    def handler(request: HttpRequest) -> HttpResponse:
        return _ok({"service": {**STARTED, "deployments": []}})

    async with ECSClient(
        region="eu-west-1",
        endpoint_url="https://ecs.example",
        credentials=Credentials(access_key_id="AKID", secret_access_key="s"),
        transport=MockTransport(handler),
    ) as ecs:
        with pytest.raises(ValueError, match="without a PRIMARY deployment"):
            await ecs.deploy(service="web", force_new_deployment=True)


async def test_a_poll_that_hangs_is_cut_at_the_deadline(client: Any) -> None:
    """The timeout bounds the DescribeServices calls too, not only the pauses between."""
    script = Script([STARTED])
    hung = asyncio.Event()

    async def hangs(request: HttpRequest) -> HttpResponse:
        if request.operation != "DescribeServices":
            return script(request)
        hung.set()
        await asyncio.Event().wait()  # the network hangs: never an answer
        raise AssertionError("unreachable")

    with pytest.raises(WaiterError) as caught:
        # The guard only keeps a failing run from hanging the suite.
        await asyncio.wait_for(follow(client, hangs, timeout=0.2), 30)
    assert hung.is_set()
    assert OURS in str(caught.value) and "IN_PROGRESS" in str(caught.value)


async def test_close_wakes_a_rollout_asleep_between_polls(client: Any) -> None:
    script = Script([STARTED])
    ecs = client(script)
    rollout = await ecs.deploy(cluster="prod", service="web", task_definition="web:2")
    waiting = asyncio.ensure_future(rollout.wait(interval=60, timeout=600))
    while "DescribeServices" not in script.operations:  # polled once, now asleep for 60 s
        await asyncio.sleep(0.01)
    await ecs.close()
    with pytest.raises(ClientClosedError):
        await asyncio.wait_for(waiting, 30)
