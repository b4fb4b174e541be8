"""Jobs: tasks started by RunTask or StartTask, carried to a truthful end.

What this protects against, each a known failure of hand-written loops on botocore's waiters:

- ECS is eventually consistent: DescribeTasks answers `MISSING` for a task RunTask has just
  started. Here that means "not visible yet" for `missing_grace` seconds after the start.
- A task can go PENDING -> STOPPED between two polls: seen first as STOPPED is normal, and
  its outcome is read from that description.
- Waits end at a deadline in seconds, never after a number of attempts.
- A sidecar killed with 143 when the essential container exits is not a failure: which
  containers are essential comes from the task definition (DescribeTaskDefinition, once per
  revision).
- RunTask starts at most 10 tasks a call and DescribeTasks describes at most 100: calls are
  made in batches, each RunTask call with a clientToken of its own, kept across that call's
  retries, so a retried call never starts its tasks twice. StartTask has no token: a StartTask
  call that may have been processed is not repeated (the pipeline's rule), and its error says
  so.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import attrs

from ._exceptions import CallError, JobStartError, WaiterError
from ._limits import DESCRIBE_TASKS_MAX
from ._wait_deadline import Expired, WaitDeadline

if TYPE_CHECKING:
    from . import models
    from ._generated.operations import ECSOperations

__all__ = ["CAUSES", "Cause", "Job", "JobResult", "TaskOutcome"]

Cause = Literal[
    "succeeded",
    "exited",
    "out_of_memory",
    "image_pull",
    "failed_to_start",
    "health_check",
    "spot_interruption",
    "stopped_by_user",
    "scaled_in",
    "unknown",
]

# Why a stopped task stopped: the first row whose stop code is the task's, or one of whose
# texts is in the task's stoppedReason or an essential container's reason (case ignored),
# wins. The texts are the prefixes of the reasons ECS writes (Amazon ECS Developer Guide,
# "Amazon ECS stopped task error messages" and "Stopped tasks"). A task no row matches is
# judged by its essential containers' exit codes: all 0 "succeeded", one not 0 "exited",
# one missing "unknown". docs/jobs.md shows this table.
CAUSES: tuple[tuple[Cause, frozenset[str], tuple[str, ...]], ...] = (
    # StopTask ("Task stopped by user", or the reason given to it), job.stop() included.
    ("stopped_by_user", frozenset({"UserInitiated"}), ()),
    # "Your Spot Task was interrupted." (Fargate Spot, EC2 Spot capacity providers).
    (
        "spot_interruption",
        frozenset({"SpotInterruption", "TerminationNotice"}),
        ("Your Spot Task was interrupted",),
    ),
    # "CannotPullContainerError: pull image manifest has been retried 5 time(s): ...",
    # "CannotPullECRContainerError: AccessDeniedException: ...".
    ("image_pull", frozenset(), ("CannotPullContainerError", "CannotPullECRContainerError")),
    # A container's reason "OutOfMemoryError: Container killed due to memory usage" (exit 137).
    ("out_of_memory", frozenset(), ("OutOfMemoryError",)),
    # "Task failed ELB health checks in (target-group arn:...)", "Task failed container
    # health checks" (stop code ServiceSchedulerInitiated for a service's task).
    ("health_check", frozenset(), ("failed ELB health checks", "failed container health checks")),
    # "ResourceInitializationError: unable to pull secrets or registry auth: ...",
    # "CannotStartContainerError: ...", "CannotCreateContainerError: ...", ...
    (
        "failed_to_start",
        frozenset({"TaskFailedToStart"}),
        (
            "ResourceInitializationError",
            "CannotStartContainerError",
            "CannotCreateContainerError",
            "CannotInspectContainerError",
            "ContainerRuntimeError",
            "ContainerRuntimeTimeoutError",
        ),
    ),
    # "Scaling activity initiated by (deployment ecs-svc/...)": a service's scheduler.
    ("scaled_in", frozenset({"ServiceSchedulerInitiated"}), ("Scaling activity initiated by",)),
)

# RunTask's `count`: "You can specify up to 10 tasks for each call." StartTask's
# containerInstances: "You can specify up to 10 container instances."
_START_BATCH = 10
# DescribeTasks may answer MISSING for this long after a task was started (seconds).
DEFAULT_MISSING_GRACE = 60.0
# Last statuses of a task that has ended: STOPPED, then DELETED (task lifecycle, AWS docs).
_ENDED = frozenset({"STOPPED", "DELETED"})


@attrs.frozen
class TaskOutcome:
    """How one task of a job ended (or, for `"unknown"`, what is known of it).

    `exit_codes` maps every container's name to its exit code (None: it never exited, e.g.
    it never started); `essential` names the containers that decide the outcome. `cause` is
    derived from the stop code and the reasons (see `CAUSES`).
    """

    task_arn: str
    last_status: str | None
    stop_code: str | None
    stopped_reason: str | None
    exit_codes: Mapping[str, int | None]
    started_at: datetime | None
    stopped_at: datetime | None
    cause: Cause
    essential: tuple[str, ...] = ()
    task: models.Task | None = attrs.field(default=None, eq=False, repr=False)
    """The task's last description (None if ECS never described it)."""

    @property
    def exit_code(self) -> int | None:
        """The first non-zero exit code of an essential container (None: there is none)."""
        for name in self.essential:
            code = self.exit_codes.get(name)
            if code:
                return code
        return None


@attrs.frozen
class JobResult:
    """A job's end: one outcome per started task, in start order, and the placement failures."""

    outcomes: tuple[TaskOutcome, ...]
    failures: tuple[models.Failure, ...]
    requested: int

    @property
    def succeeded(self) -> bool:
        """Every requested task started and every essential container exited 0."""
        return (
            not self.failures
            and len(self.outcomes) == self.requested
            and all(o.cause == "succeeded" for o in self.outcomes)
        )


def cause_of(task: models.Task, essential: Sequence[str] | None, stopped_by_job: bool) -> Cause:
    """The cause of a stopped task's end; `essential` None means every container counts."""
    names = None if essential is None else set(essential)
    containers = [c for c in task.containers if names is None or (c.name or "") in names]
    texts = [task.stopped_reason or ""] + [c.reason or "" for c in containers]
    lowered = [text.lower() for text in texts if text]
    for cause, codes, fragments in CAUSES:
        # job.stop() stopped it, on an ECS that writes no stop code (moto, older agents).
        if cause == "stopped_by_user" and stopped_by_job and task.stop_code is None:
            return cause
        if task.stop_code in codes or any(f.lower() in t for f in fragments for t in lowered):
            return cause
    codes_seen = [c.exit_code for c in containers]
    if not codes_seen or any(code is None for code in codes_seen):
        return "unknown"
    return "succeeded" if all(code == 0 for code in codes_seen) else "exited"


class Job:
    """Tasks started together by `ECSClient.run_job` or `start_job`.

    `task_arns` are the started tasks in start order, `failures` the placement failures
    RunTask or StartTask answered (`RESOURCE:MEMORY`, `MISSING` container instance, ...).
    """

    def __init__(
        self,
        ecs: ECSOperations,
        cluster: str | None,
        requested: int,
        pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._ecs = ecs
        self._pause = pause  # the client's: close() ends a wait between polls
        self.cluster = cluster
        self.requested = requested
        self.task_arns: list[str] = []
        self.failures: list[models.Failure] = []
        self._started: dict[str, float] = {}  # ARN -> monotonic time RunTask answered
        self._last: dict[str, models.Task] = {}  # the latest description of each task
        self._stopped_by_job: set[str] = set()
        self._essential: dict[str, tuple[str, ...]] = {}  # task definition ARN -> names

    def __repr__(self) -> str:
        return f"<Job cluster={self.cluster!r} tasks={len(self.task_arns)} of {self.requested}>"

    def _add(self, reply: models.RunTaskResponse | models.StartTaskResponse) -> None:
        now = time.monotonic()
        for task in reply.tasks:
            if task.task_arn:
                self.task_arns.append(task.task_arn)
                self._started[task.task_arn] = now
                self._last[task.task_arn] = task
        self.failures.extend(reply.failures)

    def _pending(self) -> list[str]:
        return [a for a in self.task_arns if self._last[a].last_status not in _ENDED]

    async def wait(
        self,
        timeout: float | None = None,
        interval: float = 6.0,
        *,
        missing_grace: float = DEFAULT_MISSING_GRACE,
    ) -> JobResult:
        """Poll every `interval` seconds until every task has stopped; the outcome of each.

        `timeout` is a deadline in seconds (None: none), for the polls as for the pauses
        between them: at it, `WaiterError` names the tasks not yet stopped. A task
        described as `MISSING` within `missing_grace` seconds of its start is not visible
        yet; after that it is given up on, with cause `"unknown"`.
        """
        if interval <= 0:
            raise ValueError("interval must be positive")
        deadline = WaitDeadline(timeout)
        gone: dict[str, str] = {}  # ARN -> why ECS no longer describes it
        # The first poll one interval after the last start: sooner, ECS would mostly answer
        # MISSING or PENDING (a wait begun later than that polls at once).
        if self._started:
            first = deadline.pause(max(self._started.values()) + interval - time.monotonic())
            if first is None:
                raise self._timed_out(self._pending(), timeout)
            if first > 0:
                await self._pause(first)
        while True:
            pending = [a for a in self._pending() if a not in gone]
            if pending:
                try:
                    gone.update(await deadline.bound(self._poll(pending, missing_grace)))
                except Expired:
                    raise self._timed_out(pending, timeout) from None
                pending = [a for a in self._pending() if a not in gone]
            if not pending:
                break
            pause = deadline.pause(interval)
            if pause is None:
                raise self._timed_out(pending, timeout)
            await self._pause(pause)
        outcomes = [await self._outcome(arn, gone.get(arn)) for arn in self.task_arns]
        return JobResult(tuple(outcomes), tuple(self.failures), self.requested)

    async def _poll(self, arns: list[str], missing_grace: float) -> dict[str, str]:
        """Describe `arns` (100 a call, concurrently); record what came back. The tasks ECS
        no longer describes although their grace has passed, with the reason."""
        batches = [
            arns[i : i + DESCRIBE_TASKS_MAX] for i in range(0, len(arns), DESCRIBE_TASKS_MAX)
        ]
        replies = await asyncio.gather(
            *(self._ecs.describe_tasks(cluster=self.cluster, tasks=batch) for batch in batches)
        )
        reasons: dict[str, str] = {}
        described = set()
        for reply in replies:
            for task in reply.tasks:
                if task.task_arn in self._last:
                    self._last[task.task_arn] = task
                    described.add(task.task_arn)
            for failure in reply.failures:
                if failure.arn:
                    reasons[failure.arn] = failure.reason or "MISSING"
        now = time.monotonic()
        gone = {}
        for arn in arns:
            # Neither described nor within its grace: ECS answered MISSING, or left it out.
            if arn not in described and now - self._started[arn] >= missing_grace:
                gone[arn] = reasons.get(arn, "NOT_RETURNED")
        return gone

    def _timed_out(self, pending: list[str], timeout: float | None) -> WaiterError:
        details = [f"{arn}: {self._last[arn].last_status or 'MISSING'}" for arn in pending]
        return WaiterError(
            "job",
            f"timed out after {timeout} s with {len(pending)} of {len(self.task_arns)} "
            "tasks not stopped",
            None,
            details,
        )

    async def _outcome(self, arn: str, gone: str | None) -> TaskOutcome:
        task = self._last[arn]
        essential = await self._essential_of(task)
        exit_codes = {c.name or "": c.exit_code for c in task.containers}
        reason: str | None
        if gone is not None:
            reason = f"ECS no longer describes the task ({gone}) and it was never seen stopped"
            cause: Cause = "unknown"
        else:
            reason = task.stopped_reason
            cause = cause_of(task, essential, arn in self._stopped_by_job)
        return TaskOutcome(
            task_arn=arn,
            last_status=task.last_status if gone is None else None,
            stop_code=task.stop_code,
            stopped_reason=reason,
            exit_codes=exit_codes,
            started_at=task.started_at,
            stopped_at=task.stopped_at,
            cause=cause,
            essential=essential if essential is not None else tuple(exit_codes),
            task=task,
        )

    async def _essential_of(self, task: models.Task) -> tuple[str, ...] | None:
        """The essential containers of the task's definition (None if it names none)."""
        arn = task.task_definition_arn
        if not arn:
            return None
        names = self._essential.get(arn)
        if names is None:
            reply = await self._ecs.describe_task_definition(task_definition=arn)
            definition = reply.task_definition
            containers = definition.container_definitions if definition else []
            # "essential": "If the essential parameter of a container is marked as true...
            # All tasks must have at least one essential container." Default: true.
            names = tuple(c.name or "" for c in containers if c.essential is not False)
            self._essential[arn] = names
        return names

    async def stop(self, reason: str | None = None) -> list[str]:
        """StopTask for every task not seen stopped; the ARNs it was sent for.

        Each such task's outcome will be `"stopped_by_user"`. Every StopTask is tried; the
        first error, if any, is raised afterwards.
        """
        arns = self._pending()
        self._stopped_by_job.update(arns)
        answers = await asyncio.gather(
            *(self._ecs.stop_task(cluster=self.cluster, task=arn, reason=reason) for arn in arns),
            return_exceptions=True,
        )
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
        return arns


StartCall = Callable[[list[Any]], Awaitable[Any]]


async def _start(job: Job, batches: list[list[Any]], call: StartCall) -> Job:
    """Make the start calls one after another; a failure after the first is `JobStartError`
    (the tasks already started are in its `job`)."""
    for number, batch in enumerate(batches):
        try:
            job._add(await call(batch))
        except CallError as error:
            if number == 0:
                raise
            raise JobStartError(
                f"call {number + 1} of {len(batches)} failed after {len(job.task_arns)} "
                f"tasks had started (see .job): {error}",
                job,
            ) from error
    return job


async def run_job(
    ecs: ECSOperations,
    cluster: str | None,
    task_definition: str,
    count: int,
    params: dict[str, Any],
    *,
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Job:
    """RunTask in calls of at most 10 tasks, each with a clientToken of its own."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer, not {count!r}")
    if "client_token" in params:
        # One token for several calls would make ECS answer every call after the first
        # with the first call's tasks.
        raise TypeError("run_job gives each RunTask call a clientToken of its own")
    sizes = [min(_START_BATCH, count - i) for i in range(0, count, _START_BATCH)]

    async def call(batch: list[int]) -> models.RunTaskResponse:
        # The pipeline fills RunTask's clientToken once per call and sends it with every
        # retry of that call, so ECS starts its tasks once however often it is retried.
        return await ecs.run_task(
            cluster=cluster, task_definition=task_definition, count=batch[0], **params
        )

    return await _start(Job(ecs, cluster, count, pause), [[n] for n in sizes], call)


async def start_job(
    ecs: ECSOperations,
    cluster: str | None,
    task_definition: str,
    container_instances: Sequence[str],
    params: dict[str, Any],
    *,
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Job:
    """StartTask in calls of at most 10 container instances (never repeated blindly)."""
    if isinstance(container_instances, str):
        raise TypeError("container_instances is a list of container instance ARNs or ids")
    instances = list(container_instances)
    if not instances:
        raise ValueError("container_instances must name at least one container instance")

    async def call(batch: list[str]) -> models.StartTaskResponse:
        return await ecs.start_task(
            cluster=cluster, task_definition=task_definition, container_instances=batch, **params
        )

    batches = [instances[i : i + _START_BATCH] for i in range(0, len(instances), _START_BATCH)]
    return await _start(Job(ecs, cluster, len(instances), pause), batches, call)
