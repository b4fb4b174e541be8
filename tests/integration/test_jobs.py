"""Running a job against LocalECS: `run_job` / `start_job`, `Job.wait`, `Job.stop`.

Each test starts the tasks over HTTP and reads their end through DescribeTasks, as against
ECS; how a task ends is set by the container environment conventions LocalECS documents
(`AIOECS_EXIT_CODE`, `AIOECS_RUN_SECONDS`, `AIOECS_FAIL`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aioecs import AttemptEvent, CallEvent, ECSClient
from aioecs.errors import JobStartError, TransportError, WaiterError
from aioecs.testing import Faults, LocalECS

CLUSTER = "jobs"
POLL = 0.05


def env(**values: object) -> list[dict[str, str]]:
    return [{"name": f"AIOECS_{k.upper()}", "value": str(v)} for k, v in values.items()]


def override(container: str = "app", **values: object) -> dict[str, Any]:
    """RunTask overrides that set the AIOECS_* conventions on one container."""
    return {"container_overrides": [{"name": container, "environment": env(**values)}]}


async def setup(ecs: ECSClient, instances: int = 1) -> list[str]:
    """The cluster, `instances` container instances (their ARNs) and a task definition
    `batch` (essential `app`, non-essential `log`)."""
    await ecs.create_cluster(cluster_name=CLUSTER)
    arns = []
    for n in range(instances):
        document = {"instanceId": f"i-{n:017x}", "region": "us-east-1"}
        reply = await ecs.register_container_instance(
            cluster=CLUSTER, instance_identity_document=json.dumps(document)
        )
        assert reply.container_instance and reply.container_instance.container_instance_arn
        arns.append(reply.container_instance.container_instance_arn)
    await ecs.register_task_definition(
        family="batch",
        container_definitions=[
            {"name": "app", "image": "app:1", "environment": env(run_seconds=0)},
            {"name": "log", "image": "fluent-bit", "essential": False},
        ],
    )
    return arns


@pytest.fixture
async def local() -> AsyncIterator[LocalECS]:
    async with LocalECS(seed=3) as server:
        yield server


@pytest.fixture
async def ecs(local: LocalECS) -> AsyncIterator[ECSClient]:
    async with local.client() as client:
        await setup(client)
        yield client


async def test_run_job_batches_by_ten_each_call_with_its_own_client_token(
    local: LocalECS, ecs: ECSClient
) -> None:
    job = await ecs.run_job(cluster=CLUSTER, task_definition="batch", count=23)

    assert len(job.task_arns) == len(set(job.task_arns)) == 23
    assert local.request_count["RunTask"] == 3
    tokens = local.state.client_tokens  # what each RunTask call carried, and what it started
    assert sorted(len(arns) for arns in tokens.values()) == [3, 10, 10]
    assert [arn for arns in tokens.values() for arn in arns] == job.task_arns  # start order
    result = await job.wait(timeout=30, interval=POLL)
    assert result.succeeded
    assert [o.task_arn for o in result.outcomes] == job.task_arns


async def test_a_lost_run_task_answer_is_retried_with_its_token_and_starts_one_task(
    local: LocalECS,
) -> None:
    class HealAfterFirstAttempt:
        """Turn the faults off once the first RunTask attempt has failed."""

        def on_attempt(self, event: AttemptEvent) -> None:
            if event.operation == "RunTask":
                local.faults = None

        def on_call(self, event: CallEvent) -> None:
            pass

    async with local.client(hooks=[HealAfterFirstAttempt()]) as ecs:
        await setup(ecs)
        local.faults = Faults(seed=1, reset_after=1.0, operations={"RunTask"})
        job = await ecs.run_job(cluster=CLUSTER, task_definition="batch", count=1)

    assert local.fault_counts["reset_after"] == 1
    assert local.processed_count["RunTask"] == 2  # processed twice, answered once
    assert len(local.state.client_tokens) == 1
    assert local.task_count(CLUSTER) == 1
    assert len(job.task_arns) == 1


async def test_a_start_task_that_may_have_been_processed_is_not_repeated(
    local: LocalECS,
) -> None:
    async with local.client() as ecs:
        instances = await setup(ecs, instances=12)
        local.faults = Faults(seed=1, reset_after=1.0, operations={"StartTask"})
        with pytest.raises(TransportError) as caught:
            await ecs.start_job(
                cluster=CLUSTER, task_definition="batch", container_instances=instances
            )
    assert caught.value.sent
    assert "may have been processed" in str(caught.value)
    assert local.processed_count["StartTask"] == 1  # not repeated
    assert local.task_count(CLUSTER) == 10  # the first call's ten did start


async def test_start_job_failing_after_its_first_call_hands_over_what_started(
    local: LocalECS,
) -> None:
    class LoseTheSecondCall:
        def on_attempt(self, event: AttemptEvent) -> None:
            pass

        def on_call(self, event: CallEvent) -> None:
            if event.operation == "StartTask":
                local.faults = Faults(seed=1, reset_after=1.0, operations={"StartTask"})

    async with local.client(hooks=[LoseTheSecondCall()]) as ecs:
        instances = await setup(ecs, instances=12)
        with pytest.raises(JobStartError) as caught:
            await ecs.start_job(
                cluster=CLUSTER, task_definition="batch", container_instances=instances
            )
        local.faults = None
        job = caught.value.job
        assert len(job.task_arns) == 10
        assert isinstance(caught.value.__cause__, TransportError)
        assert "may have been processed" in str(caught.value)
        assert local.processed_count["StartTask"] == 2
        assert local.task_count(CLUSTER) == 12
        result = await job.wait(timeout=30, interval=POLL)
    assert [o.cause for o in result.outcomes] == ["succeeded"] * 10
    assert not result.succeeded  # 12 requested, 10 known to have started


async def test_start_job_in_calls_of_ten(local: LocalECS) -> None:
    async with local.client() as ecs:
        instances = await setup(ecs, instances=12)
        job = await ecs.start_job(
            cluster=CLUSTER, task_definition="batch", container_instances=instances
        )
        result = await job.wait(timeout=30, interval=POLL)
    assert local.request_count["StartTask"] == 2
    assert result.succeeded and len(result.outcomes) == 12


async def test_missing_right_after_the_start_is_not_yet_visible() -> None:
    now = [1_700_000_000.0]  # LocalECS's clock: the tasks stay MISSING until it moves
    async with LocalECS(clock=lambda: now[0], missing_seconds=10) as local, local.client() as ecs:
        await setup(ecs)
        job = await ecs.run_job(cluster=CLUSTER, task_definition="batch", count=3)
        waiting = asyncio.ensure_future(job.wait(timeout=30, interval=POLL))
        while local.request_count["DescribeTasks"] < 3 and not waiting.done():
            await asyncio.sleep(POLL)
        assert not waiting.done()
        now[0] += 11  # visible now, and (run_seconds 0) exited
        result = await waiting
        assert result.succeeded

        # Without the grace window, the same answer would have been taken as the end.
        job = await ecs.run_job(cluster=CLUSTER, task_definition="batch", count=1)
        result = await job.wait(timeout=30, interval=POLL, missing_grace=0)
    (outcome,) = result.outcomes
    assert outcome.cause == "unknown" and outcome.last_status is None
    assert outcome.stopped_reason and "MISSING" in outcome.stopped_reason


async def test_a_task_seen_first_as_stopped_is_read_from_that_description(
    local: LocalECS, ecs: ECSClient
) -> None:
    job = await ecs.run_job(cluster=CLUSTER, task_definition="batch", count=2)
    result = await job.wait(timeout=30, interval=POLL)
    # RunTask answered PENDING; the one poll found them STOPPED, exited 0.
    assert local.request_count["DescribeTasks"] == 1
    assert result.succeeded
    for outcome in result.outcomes:
        assert outcome.started_at is not None and outcome.stopped_at is not None
        assert outcome.stop_code == "EssentialContainerExited"


async def test_past_the_deadline_waiter_error_names_the_tasks_not_stopped(
    ecs: ECSClient,
) -> None:
    job = await ecs.run_job(
        cluster=CLUSTER, task_definition="batch", count=2, overrides=override(run_seconds=600)
    )
    with pytest.raises(WaiterError) as caught:
        await job.wait(timeout=0.2, interval=POLL)
    assert caught.value.waiter == "job"
    assert "timed out" in caught.value.reason
    assert [d.split(":")[-1].strip() for d in caught.value.details] == ["RUNNING"] * 2
    assert all(arn in str(caught.value) for arn in job.task_arns)

    assert await job.stop(reason="enough") == job.task_arns
    result = await job.wait(timeout=30, interval=POLL)
    assert [o.cause for o in result.outcomes] == ["stopped_by_user"] * 2
    assert [o.stopped_reason for o in result.outcomes] == ["enough"] * 2
    assert await job.stop() == []  # nothing left to stop


async def test_a_sidecar_killed_with_143_does_not_fail_the_job(
    local: LocalECS, ecs: ECSClient
) -> None:
    job = await ecs.run_job(cluster=CLUSTER, task_definition="batch", count=15)
    result = await job.wait(timeout=30, interval=POLL)
    assert result.succeeded
    assert {o.exit_codes["log"] for o in result.outcomes} == {143}
    assert {o.exit_codes["app"] for o in result.outcomes} == {0}
    assert local.request_count["DescribeTaskDefinition"] == 1  # once for the revision


@pytest.mark.parametrize(
    ("overrides", "cause", "code"),
    [
        (override(exit_code=3), "exited", 3),
        (override(fail="out_of_memory"), "out_of_memory", 137),
        (override(fail="image_pull"), "image_pull", None),
        (override(fail="resource_initialization"), "failed_to_start", None),
        (override("log", exit_code=1), "succeeded", None),
    ],
)
async def test_each_way_a_task_ends(
    ecs: ECSClient, overrides: dict[str, Any], cause: str, code: int | None
) -> None:
    job = await ecs.run_job(cluster=CLUSTER, task_definition="batch", count=2, overrides=overrides)
    result = await job.wait(timeout=30, interval=POLL)
    assert [o.cause for o in result.outcomes] == [cause] * 2
    assert [o.exit_code for o in result.outcomes] == [code] * 2
    assert result.succeeded is (cause == "succeeded")


@pytest.mark.parametrize(
    ("reason", "cause"),
    [
        ("Your Spot Task was interrupted.", "spot_interruption"),
        (
            "Task failed ELB health checks in (target-group arn:aws:...:targetgroup/w/1)",
            "health_check",
        ),
        ("Scaling activity initiated by (deployment ecs-svc/1234567890)", "scaled_in"),
    ],
)
async def test_causes_read_from_the_stopped_reason(
    local: LocalECS, ecs: ECSClient, reason: str, cause: str
) -> None:
    job = await ecs.run_job(
        cluster=CLUSTER, task_definition="batch", count=1, overrides=override(run_seconds=600)
    )
    local.set_task_status(job.task_arns[0], "RUNNING")
    local.set_task_status(job.task_arns[0], "STOPPED", exit_code={"app": 0}, reason=reason)
    result = await job.wait(timeout=30, interval=POLL)
    assert [o.cause for o in result.outcomes] == [cause]


async def test_describe_tasks_in_batches_of_a_hundred(local: LocalECS, ecs: ECSClient) -> None:
    job = await ecs.run_job(
        cluster=CLUSTER, task_definition="batch", count=150, overrides=override(run_seconds=0.2)
    )
    result = await job.wait(timeout=60, interval=POLL)  # LocalECS refuses more than 100
    assert result.succeeded and len(result.outcomes) == 150
    assert local.request_count["RunTask"] == 15


async def test_placement_failures_are_kept() -> None:
    async with LocalECS() as local, local.client() as ecs:
        await ecs.create_cluster(cluster_name="empty")
        await ecs.register_task_definition(
            family="batch", container_definitions=[{"name": "app", "image": "app:1"}]
        )
        job = await ecs.run_job(cluster="empty", task_definition="batch", count=12)
        assert job.task_arns == []
        assert len(job.failures) == 12
        result = await job.wait(timeout=5, interval=POLL)
    assert not result.succeeded and result.outcomes == ()
    assert len(result.failures) == 12
