"""`ecs.deploy(...)` and `Rollout.wait()`: an UpdateService followed to its true end.

botocore's `services_stable` waiter asks only "is there one deployment, running what it
wants?", which is just as true after a circuit breaker put the old task definition back
(botocore #2865): a rollback reads as success. Here the deployment this UpdateService
started (the PRIMARY entry of its answer) is followed by id through DescribeServices'
`deployments`, which every account has, and what became of it is told apart:

* still PRIMARY, rolloutState COMPLETED: `COMPLETED`;
* still PRIMARY, rolloutState FAILED: `FAILED` (the circuit breaker tripped without a
  rollback), unless the service rolls back on failure and had an earlier deployment: then ECS
  is about to start the rollback, which is awaited;
* replaced as PRIMARY (turned ACTIVE, or gone) by a deployment that rolls back (it was seen
  FAILED; the new PRIMARY's rolloutStateReason says "rolling back"; or the new PRIMARY runs
  a task definition of before and the service rolls back on failure): `ROLLED_BACK` once that
  rollback completes, `FAILED` if it fails;
* replaced by anything else (another UpdateService), or the service deleted: `STOPPED`.

Where the service deployment API answers (DescribeServiceDeployments on the ARN UpdateService
returned as `currentServiceDeployment`), its status adds the detail and settles the cases the
deployments list alone leaves open (ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED, STOPPED). An account
or emulator without it (an error of any kind) is followed by DescribeServices alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import attrs

from ._exceptions import CallError, WaiterError
from ._wait_deadline import Expired, WaitDeadline

if TYPE_CHECKING:
    from . import models
    from ._generated.operations import ECSOperations

__all__ = ["DeployStatus", "Rollout", "RolloutResult", "deploy"]

DeployStatus = Literal["COMPLETED", "ROLLED_BACK", "FAILED", "STOPPED"]

# The service deployment API's settled statuses, as ours; the others mean "not yet".
_DETAIL_STATUS: dict[str, DeployStatus] = {
    "SUCCESSFUL": "COMPLETED",
    "ROLLBACK_SUCCESSFUL": "ROLLED_BACK",
    "ROLLBACK_FAILED": "FAILED",
    "STOPPED": "STOPPED",
}
_ROLLBACK_WORDS = ("rolling back", "rollback", "rolled back")


@attrs.frozen(kw_only=True)
class RolloutResult:
    """How a deployment ended. `succeeded` only for `COMPLETED`: a rollback is not a success.

    `reason` is the deployment's rolloutStateReason (for a rollback, why it failed when that
    was seen, else the rollback's own reason). `task_definition` is what the deployment rolled
    out, `service_task_definition` what the service runs at the end (after a rollback: the
    old one). Counts are the deployment's as last seen. `service_deployment_status` is the
    service deployment API's status (`ROLLBACK_SUCCESSFUL`, ...), None where not available.
    """

    deployment_id: str
    status: DeployStatus
    reason: str | None
    service: str
    cluster: str | None
    task_definition: str | None
    service_task_definition: str | None
    rollback_deployment_id: str | None = None
    desired_count: int | None = None
    running_count: int | None = None
    pending_count: int | None = None
    failed_tasks: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None
    service_deployment_arn: str | None = None
    service_deployment_status: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "COMPLETED"


async def deploy(
    ecs: ECSOperations,
    *,
    service: str,
    cluster: str | None = None,
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
    **params: Any,
) -> Rollout:
    """UpdateService with `params`, returning the handle on the deployment it started."""
    answer = await ecs.update_service(cluster=cluster, service=service, **params)
    found = answer.service
    primary = _primary(found.deployments) if found is not None else None
    if found is None or primary is None or primary.id is None:
        raise ValueError(
            f"service {service}: UpdateService answered without a PRIMARY deployment to "
            "follow (deploy() follows the ECS deployment controller's rolling deployments)"
        )
    return Rollout(ecs, cluster, found, primary, pause)


def _primary(deployments: list[models.Deployment]) -> models.Deployment | None:
    return next((d for d in deployments if d.status == "PRIMARY"), None)


class Rollout:
    """The deployment an UpdateService started: `await rollout.wait()` follows it to its end.

    `deployment_id` is its id (`ecs-svc/...`), `service` the service's ARN, `response` the
    UpdateService answer's `Service`.
    """

    def __init__(
        self,
        ecs: ECSOperations,
        cluster: str | None,
        service: models.Service,
        primary: models.Deployment,
        pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._ecs = ecs
        self._pause = pause  # the client's: close() ends a wait between polls
        self.cluster = cluster
        self.response = service
        self.service = service.service_arn or service.service_name or ""
        self.deployment_id: str = primary.id or ""
        self.task_definition = primary.task_definition
        self.service_deployment_arn = service.current_service_deployment
        # Task definitions running before: a new PRIMARY with one of them is a way back.
        self._before = {d.task_definition for d in service.deployments if d is not primary} - {
            primary.task_definition
        }
        self._last = primary
        self._saw_failed = primary.rollout_state == "FAILED"
        self._detail_works = self.service_deployment_arn is not None

    def __repr__(self) -> str:
        return f"<Rollout {self.deployment_id} of {self.service}>"

    async def wait(
        self,
        *,
        timeout: float = 1800.0,
        interval: float = 15.0,
        on_change: Callable[[models.Deployment], object] | None = None,
    ) -> RolloutResult:
        """Poll DescribeServices every `interval` seconds until the deployment has ended.

        `timeout` is a deadline in seconds, with no cap on attempts: past it,
        `aioecs.errors.WaiterError` names the deployment and the state it was last seen in.
        `on_change(deployment)` is called with the deployment as DescribeServices shows it
        whenever its status, rolloutState or counts change (progress for a person watching).
        """
        if timeout < 0 or interval <= 0:
            raise ValueError("timeout must be >= 0 and interval > 0 seconds")
        deadline = WaitDeadline(timeout)
        answer: models.DescribeServicesResponse | None = None
        while True:
            try:
                answer, result = await deadline.bound(self._look(on_change))
            except Expired:
                raise self._timed_out(timeout, answer) from None
            if result is not None:
                return result
            pause = deadline.pause(interval)
            if pause is None:
                raise self._timed_out(timeout, answer)
            await self._pause(pause)

    async def _look(
        self, on_change: Callable[[models.Deployment], object] | None
    ) -> tuple[models.DescribeServicesResponse, RolloutResult | None]:
        """One DescribeServices and what it says: the ending, or None while it goes on."""
        answer = await self._ecs.describe_services(cluster=self.cluster, services=[self.service])
        found = answer.services[0] if answer.services else None
        seen = self._last
        result = await self._judge(found)
        if on_change is not None and _progress(self._last) != _progress(seen):
            on_change(self._last)
        return answer, result

    async def _judge(self, found: models.Service | None) -> RolloutResult | None:
        if found is None or found.status in ("DRAINING", "INACTIVE"):
            return await self._settle("STOPPED", "the service was deleted", None)
        ours = next((d for d in found.deployments if d.id == self.deployment_id), None)
        if ours is not None:
            self._last = ours
            self._saw_failed = self._saw_failed or ours.rollout_state == "FAILED"
        primary = _primary(found.deployments)
        if ours is not None and ours is primary:
            return await self._judge_primary(found, ours)
        if primary is None:
            return None  # between two states: look again
        if self._rolls_back(found, primary):
            if primary.rollout_state == "COMPLETED":
                return await self._settle("ROLLED_BACK", self._failure_reason(primary), primary)
            if primary.rollout_state == "FAILED":
                reason = f"the rollback failed: {primary.rollout_state_reason}"
                return await self._settle("FAILED", reason, primary)
            return None
        reason = f"superseded by deployment {primary.id} ({primary.task_definition})"
        return await self._settle("STOPPED", reason, primary)

    async def _judge_primary(
        self, found: models.Service, ours: models.Deployment
    ) -> RolloutResult | None:
        state = ours.rollout_state
        if state == "COMPLETED":
            return await self._settle("COMPLETED", ours.rollout_state_reason, None)
        if state == "FAILED":
            if self._before and _rolls_back_on_failure(found):
                # ECS starts the rollback right after; the detail API may already know more.
                return await self._settle_detail(ours.rollout_state_reason)
            return await self._settle("FAILED", ours.rollout_state_reason, None)
        # No rollout states (a Classic Load Balancer, some emulators): steady is all there
        # is to go by, and no circuit breaker can have rolled it back.
        if (
            state is None
            and len(found.deployments) == 1
            and ours.running_count == ours.desired_count
        ):
            return await self._settle("COMPLETED", None, None)
        return None

    def _rolls_back(self, found: models.Service, primary: models.Deployment) -> bool:
        """Whether the deployment that replaced ours is a rollback of it."""
        if self._saw_failed:
            return True
        reason = (primary.rollout_state_reason or "").lower()
        if any(word in reason for word in _ROLLBACK_WORDS):
            return True
        return primary.task_definition in self._before and _rolls_back_on_failure(found)

    def _failure_reason(self, rollback: models.Deployment) -> str | None:
        """Why ours failed if that was seen, else what the rollback says of itself."""
        if self._saw_failed and self._last.rollout_state_reason:
            return self._last.rollout_state_reason
        reason = rollback.rollout_state_reason or ""
        if any(word in reason.lower() for word in _ROLLBACK_WORDS):
            return reason
        return f"the service went back to {rollback.task_definition} (deployment {rollback.id})"

    async def _settle_detail(self, reason: str | None) -> RolloutResult | None:
        """Ours failed and a rollback is expected: settled only if the detail API says so."""
        detail = await self._detail()
        if detail is None or detail.status not in _DETAIL_STATUS:
            return None
        status = _DETAIL_STATUS[detail.status]
        return self._result("FAILED" if status == "STOPPED" else status, reason, None, detail)

    async def _settle(
        self, status: DeployStatus, reason: str | None, primary: models.Deployment | None
    ) -> RolloutResult | None:
        """The end as DescribeServices shows it, refined by the service deployment API."""
        detail = await self._detail()
        if detail is not None and status == "STOPPED":
            settled = _DETAIL_STATUS.get(detail.status or "")
            if settled is None and detail.status in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"):
                return None  # the deployment API knows it is rolling back: wait for the end
            if settled in ("ROLLED_BACK", "FAILED"):
                status = settled
                reason = detail.status_reason or reason
        return self._result(status, reason, primary, detail)

    async def _detail(self) -> models.ServiceDeployment | None:
        if not self._detail_works or self.service_deployment_arn is None:
            return None
        try:
            answer = await self._ecs.describe_service_deployments(
                service_deployment_arns=[self.service_deployment_arn]
            )
        except CallError:
            # Not in this account, Region or emulator, or not allowed: DescribeServices
            # alone decides, as it would have anyway.
            self._detail_works = False
            return None
        return answer.service_deployments[0] if answer.service_deployments else None

    def _result(
        self,
        status: DeployStatus,
        reason: str | None,
        primary: models.Deployment | None,
        detail: models.ServiceDeployment | None,
    ) -> RolloutResult:
        last = self._last
        rollback = primary if status in ("ROLLED_BACK", "FAILED") and primary else None
        finished = detail.finished_at if detail is not None else None
        if finished is None and status == "COMPLETED":
            finished = last.updated_at
        elif finished is None and rollback is not None:
            finished = rollback.updated_at
        return RolloutResult(
            deployment_id=self.deployment_id,
            status=status,
            reason=reason,
            service=self.service,
            cluster=self.cluster,
            task_definition=last.task_definition,
            service_task_definition=(primary or last).task_definition,
            rollback_deployment_id=rollback.id if rollback is not None else None,
            desired_count=last.desired_count,
            running_count=last.running_count,
            pending_count=last.pending_count,
            failed_tasks=last.failed_tasks,
            created_at=last.created_at,
            updated_at=last.updated_at,
            finished_at=finished,
            service_deployment_arn=self.service_deployment_arn,
            service_deployment_status=detail.status if detail is not None else None,
        )

    def _timed_out(
        self, timeout: float, answer: models.DescribeServicesResponse | None
    ) -> WaiterError:
        last = self._last
        state = (
            f"{self.deployment_id}: {last.status} rolloutState {last.rollout_state}"
            f" ({last.rollout_state_reason}); running {last.running_count}/"
            f"{last.desired_count}, pending {last.pending_count}, failed tasks {last.failed_tasks}"
        )
        reason = f"deployment {self.deployment_id} did not end within {timeout:g} s"
        return WaiterError("Deployment", reason, answer, [state])


def _progress(d: models.Deployment) -> tuple[object, ...]:
    """What a person following a deployment wants to hear about when it changes."""
    return (d.status, d.rollout_state, d.running_count, d.pending_count, d.failed_tasks)


def _rolls_back_on_failure(service: models.Service) -> bool:
    """Whether the service's circuit breaker or alarms roll a failed deployment back."""
    config = service.deployment_configuration
    if config is None:
        return False
    breaker, alarms = config.deployment_circuit_breaker, config.alarms
    return bool(
        (breaker is not None and breaker.enable and breaker.rollback)
        or (alarms is not None and alarms.enable and alarms.rollback)
    )
