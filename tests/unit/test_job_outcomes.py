"""How a job reads its tasks' ends: the cause table, on descriptions as ECS writes them, and
RunTask's calls as they leave the client (through the `MockTransport` seam)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, get_args

import pytest

from aioecs import Cause, Credentials, ECSClient, HttpRequest, HttpResponse, MockTransport, serde
from aioecs import models as m
from aioecs._jobs import CAUSES, cause_of
from aioecs.errors import WaiterError

ARN = "arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef"
TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/batch:1"


def stopped(
    stop_code: str | None,
    reason: str | None,
    containers: dict[str, tuple[int | None, str | None]],
) -> m.Task:
    """A STOPPED task as DescribeTasks shows it: `containers` name -> (exit code, reason)."""
    wire: dict[str, Any] = {
        "taskArn": ARN,
        "taskDefinitionArn": TD,
        "lastStatus": "STOPPED",
        "desiredStatus": "STOPPED",
        "containers": [
            {
                "name": name,
                **({"exitCode": code} if code is not None else {}),
                **({"reason": why} if why else {}),
            }
            for name, (code, why) in containers.items()
        ],
    }
    if stop_code:
        wire["stopCode"] = stop_code
    if reason:
        wire["stoppedReason"] = reason
    return serde.decode(m.Task, wire)


ESSENTIAL = ("app",)
EXITED = "Essential container in task exited"


@pytest.mark.parametrize(
    ("stop_code", "reason", "containers", "cause"),
    [
        ("EssentialContainerExited", EXITED, {"app": (0, None)}, "succeeded"),
        # The sidecar is stopped with SIGTERM when the essential container exits.
        ("EssentialContainerExited", EXITED, {"app": (0, None), "log": (143, None)}, "succeeded"),
        ("EssentialContainerExited", EXITED, {"app": (2, None), "log": (143, None)}, "exited"),
        (
            "EssentialContainerExited",
            EXITED,
            {"app": (137, "OutOfMemoryError: Container killed due to memory usage")},
            "out_of_memory",
        ),
        # A sidecar's OOM kill is not the job's.
        (
            "EssentialContainerExited",
            EXITED,
            {
                "app": (0, None),
                "log": (137, "OutOfMemoryError: Container killed due to memory usage"),
            },
            "succeeded",
        ),
        (
            "TaskFailedToStart",
            "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed "
            "to resolve ref docker.io/library/nope:latest: not found",
            {"app": (None, None)},
            "image_pull",
        ),
        (
            "TaskFailedToStart",
            None,
            {"app": (None, "CannotPullContainerError: Error response from daemon: denied")},
            "image_pull",
        ),
        (
            "TaskFailedToStart",
            "ResourceInitializationError: unable to pull secrets or registry auth: ...",
            {"app": (None, None)},
            "failed_to_start",
        ),
        (
            "TaskFailedToStart",
            "Timeout waiting for network interface provisioning to complete.",
            {"app": (None, None)},
            "failed_to_start",
        ),
        (
            "ServiceSchedulerInitiated",
            "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:"
            "us-east-1:123456789012:targetgroup/web/0123456789abcdef)",
            {"app": (143, None)},
            "health_check",
        ),
        (
            "ServiceSchedulerInitiated",
            "Task failed container health checks",
            {"app": (143, None)},
            "health_check",
        ),
        (
            "SpotInterruption",
            "Your Spot Task was interrupted.",
            {"app": (143, None)},
            "spot_interruption",
        ),
        (
            "TerminationNotice",
            "Your Spot Task was interrupted.",
            {"app": (0, None)},
            "spot_interruption",
        ),
        ("UserInitiated", "Task stopped by user", {"app": (143, None)}, "stopped_by_user"),
        ("UserInitiated", "Task stopped by user", {"app": (0, None)}, "stopped_by_user"),
        (
            "ServiceSchedulerInitiated",
            "Scaling activity initiated by (deployment ecs-svc/1234567890123456789)",
            {"app": (143, None)},
            "scaled_in",
        ),
        ("EssentialContainerExited", EXITED, {"app": (None, None)}, "unknown"),
        (None, None, {"app": (0, None)}, "succeeded"),  # no stop code (moto, old agents)
    ],
)
def test_cause(
    stop_code: str | None,
    reason: str | None,
    containers: dict[str, tuple[int | None, str | None]],
    cause: str,
) -> None:
    assert cause_of(stopped(stop_code, reason, containers), ESSENTIAL, False) == cause


def test_every_container_counts_when_the_definition_names_none_essential() -> None:
    task = stopped(EXITED, None, {"app": (0, None), "log": (143, None)})
    assert cause_of(task, None, False) == "exited"


def test_stopped_by_the_job_without_a_stop_code() -> None:
    task = stopped(None, "enough", {"app": (0, None)})
    assert cause_of(task, ESSENTIAL, True) == "stopped_by_user"
    # A task that exited by itself before the job's StopTask arrived keeps its own end.
    task = stopped("EssentialContainerExited", EXITED, {"app": (0, None)})
    assert cause_of(task, ESSENTIAL, True) == "succeeded"


def test_the_table_names_each_cause_once() -> None:
    causes = [row[0] for row in CAUSES]
    assert len(causes) == len(set(causes))
    assert set(causes) | {"succeeded", "exited", "unknown"} == set(get_args(Cause))


def _client(handler: Any) -> ECSClient:
    return ECSClient(
        region="us-east-1",
        credentials=Credentials(access_key_id="AKID", secret_access_key="secret"),
        transport=MockTransport(handler),
    )


async def test_each_run_task_call_has_its_own_token_kept_across_its_retries() -> None:
    tokens: list[tuple[str, int]] = []
    seq = 0

    def handler(request: HttpRequest) -> HttpResponse:
        nonlocal seq
        body = json.loads(request.body)
        tokens.append((body["clientToken"], body["count"]))
        if len(tokens) == 1:  # the first attempt is answered 500: retried, same token
            return HttpResponse(500, {}, b'{"__type": "ServerException", "message": "oops"}')
        tasks = []
        for _ in range(body["count"]):
            seq += 1
            tasks.append({"taskArn": f"{ARN}{seq}", "lastStatus": "PENDING"})
        failures = [{"arn": "arn:ci", "reason": "RESOURCE:MEMORY"}]
        return HttpResponse(200, {}, json.dumps({"tasks": tasks, "failures": failures}).encode())

    async with _client(handler) as ecs:
        job = await ecs.run_job(cluster="prod", task_definition="batch", count=25)

    assert [count for _, count in tokens] == [10, 10, 10, 5]
    assert tokens[0][0] == tokens[1][0]  # the retry carried the call's token
    assert len({token for token, _ in tokens}) == 3  # one per call
    assert len(job.task_arns) == 25
    assert job.task_arns == [f"{ARN}{n}" for n in range(1, 26)]  # as started, in order
    assert [f.reason for f in job.failures] == ["RESOURCE:MEMORY"] * 3  # never dropped


async def test_bad_arguments_are_refused_before_anything_is_sent() -> None:
    def handler(request: HttpRequest) -> HttpResponse:
        raise AssertionError("nothing should be sent")

    async with _client(handler) as ecs:
        with pytest.raises(ValueError, match="count"):
            await ecs.run_job(task_definition="batch", count=0)
        with pytest.raises(TypeError, match="clientToken of its own"):
            await ecs.run_job(task_definition="batch", client_token="mine")
        with pytest.raises(ValueError, match="container instance"):
            await ecs.start_job(task_definition="batch", container_instances=[])


async def test_a_poll_that_hangs_ends_the_wait_at_its_timeout() -> None:
    """The wait's timeout bounds the DescribeTasks calls too, not only the pauses between."""
    hung = asyncio.Event()

    async def handler(request: HttpRequest) -> HttpResponse:
        if request.headers["x-amz-target"].endswith("RunTask"):
            task = {"taskArn": ARN, "lastStatus": "PENDING"}
            return HttpResponse(200, {}, json.dumps({"tasks": [task], "failures": []}).encode())
        hung.set()
        await asyncio.Event().wait()  # DescribeTasks: the network hangs, never an answer
        raise AssertionError("unreachable")

    async with _client(handler) as ecs:
        job = await ecs.run_job(cluster="prod", task_definition="batch", count=1)
        with pytest.raises(WaiterError, match="timed out") as caught:
            # The guard only keeps a failing run from hanging the suite.
            await asyncio.wait_for(job.wait(timeout=0.3, interval=0.05), 30)
    assert hung.is_set()
    assert caught.value.details == [f"{ARN}: PENDING"]
