"""LocalECS's services and their deployments, and how a rolling deployment unfolds over time.

A deployment's tasks take ``pending_seconds`` (the emulator's task start time) to start. A
task definition with ``AIOECS_DEPLOYMENT=fail`` in any container's ``environment`` has tasks
that never start ("tasks failed to start"): each ``pending_seconds`` another desiredCount of
them fail, until ECS's circuit breaker threshold (half the desired count, at least 3, at most
200) trips, if the service enabled it. Then, as in ECS:

* ``deploymentCircuitBreaker {enable: true, rollback: true}`` and an earlier deployment that
  completed: the failed deployment turns ACTIVE with rolloutState FAILED, and a new PRIMARY
  deployment of the last good task definition rolls out ("rolling back to deploymentId ...");
* ``enable: true, rollback: false`` (or nothing to roll back to): the deployment stays PRIMARY,
  rolloutState FAILED;
* no circuit breaker: the deployment stays IN_PROGRESS while failed tasks pile up, forever.

Progress is computed from the clock whenever a service operation runs (no background work),
like the task lifecycle in ``_model``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ._encoding import JSON, wire_time
from ._records import Cluster

IN_PROGRESS, COMPLETED, FAILED = "IN_PROGRESS", "COMPLETED", "FAILED"
PRIMARY, ACTIVE, INACTIVE = "PRIMARY", "ACTIVE", "INACTIVE"
FAIL_VARIABLE = "AIOECS_DEPLOYMENT"
"""Environment variable in a container definition: ``fail`` makes the deployment's tasks fail."""
CIRCUIT_BREAKER_FAILED = "ECS deployment circuit breaker: tasks failed to start."


@dataclass(eq=False)
class Deployment:
    """One entry of a service's ``deployments``, and the ServiceDeployment it belongs to."""

    id: str
    service_deployment_arn: str
    revision_arn: str
    task_definition: str
    desired: int
    created_ms: int
    fails: bool
    status: str = PRIMARY
    rollout: str = IN_PROGRESS
    reason: str = ""
    running: int = 0
    failed_tasks: int = 0
    updated_ms: int = 0
    # The ServiceDeployment API's view (ListServiceDeployments, DescribeServiceDeployments).
    sd_status: str = IN_PROGRESS
    sd_reason: str | None = None
    finished_ms: int | None = None
    rollback: JSON | None = None  # the ServiceDeployment's ``rollback`` once one started
    rollback_of: Deployment | None = None  # for a circuit breaker's rollback: the failed one

    def wire(self, launch_type: str) -> JSON:
        return {
            "id": self.id,
            "status": self.status,
            "taskDefinition": self.task_definition,
            "desiredCount": self.desired,
            "pendingCount": 0 if self.rollout != IN_PROGRESS else self.desired - self.running,
            "runningCount": self.running,
            "failedTasks": self.failed_tasks,
            "createdAt": wire_time(self.created_ms),
            "updatedAt": wire_time(self.updated_ms or self.created_ms),
            "launchType": launch_type,
            "rolloutState": self.rollout,
            "rolloutStateReason": self.reason,
        }


@dataclass(eq=False)
class Service:
    seq: int
    name: str
    arn: str
    cluster: Cluster
    created_ms: int
    launch_type: str
    desired: int
    task_definition: str
    config: JSON  # deploymentConfiguration as given, with ECS's defaults
    extra: JSON  # other members echoed back (networkConfiguration, ...)
    tags: list[JSON]
    status: str = "ACTIVE"
    deployments: list[Deployment] = field(default_factory=list)  # PRIMARY first
    history: list[Deployment] = field(default_factory=list)  # every ServiceDeployment
    events: list[JSON] = field(default_factory=list)  # newest first, as ECS lists them
    last_good: Deployment | None = None

    def breaker(self) -> tuple[bool, bool]:
        """(circuit breaker enabled, roll back when it trips)."""
        found = self.config.get("deploymentCircuitBreaker") or {}
        return bool(found.get("enable")), bool(found.get("rollback"))

    def event(self, at: int, message: str, seq: int) -> None:
        self.events.insert(0, {"id": f"{seq:08d}", "createdAt": wire_time(at), "message": message})

    def wire(self, with_tags: bool) -> JSON:
        out: JSON = {
            "serviceArn": self.arn,
            "serviceName": self.name,
            "clusterArn": self.cluster.arn,
            "loadBalancers": [],
            "serviceRegistries": [],
            "status": self.status,
            "desiredCount": self.desired,
            "runningCount": sum(d.running for d in self.deployments),
            "pendingCount": sum(
                d.desired - d.running for d in self.deployments if d.rollout == IN_PROGRESS
            ),
            "launchType": self.launch_type,
            "taskDefinition": self.task_definition,
            "deploymentConfiguration": self.config,
            "deployments": [d.wire(self.launch_type) for d in self.deployments],
            "events": self.events[:100],
            "createdAt": wire_time(self.created_ms),
            "currentServiceDeployment": self.history[-1].service_deployment_arn,
            "placementConstraints": [],
            "placementStrategy": [],
            "schedulingStrategy": "REPLICA",
            "deploymentController": {"type": "ECS"},
            "enableECSManagedTags": False,
            "propagateTags": "NONE",
            "enableExecuteCommand": False,
            **self.extra,
        }
        if with_tags:
            out["tags"] = self.tags
        return out


def fails(containers: list[JSON]) -> bool:
    """Whether a task definition's tasks fail to start (``AIOECS_DEPLOYMENT=fail``)."""
    return any(
        env.get("name") == FAIL_VARIABLE and env.get("value") == "fail"
        for c in containers
        for env in c.get("environment") or []
    )


def threshold(desired: int) -> int:
    """ECS's circuit breaker: half the desired count, at least 3 and at most 200 tasks."""
    return min(200, max(3, -(-desired // 2)))


def supersede(service: Service) -> None:
    """A new deployment replaces the PRIMARY one: ECS stops what it was rolling out."""
    for d in service.deployments:
        if d.status == PRIMARY:
            d.status = ACTIVE
        if d.rollout == IN_PROGRESS and d.sd_status == IN_PROGRESS:
            d.sd_status, d.sd_reason = "STOPPED", "Superseded by a newer service deployment."


def progress(service: Service, now: int, step_ms: int, new_id: Callable[[], str], seq: int) -> None:
    """Apply what happened to the PRIMARY deployment by ``now``. ``new_id`` makes the id of a
    rollback deployment (called only for one), ``seq`` is the first of four free event ids."""
    primary = service.deployments[0] if service.deployments else None
    if primary is None or primary.rollout != IN_PROGRESS:
        return
    if not primary.fails:
        if now >= primary.created_ms + step_ms:
            _complete(service, primary, primary.created_ms + step_ms, seq)
        return
    per_step = max(primary.desired, 1)
    rounds = (now - primary.created_ms) // step_ms if step_ms else 1
    enabled, rollback = service.breaker()
    needed = -(-threshold(primary.desired) // per_step)
    if not enabled or rounds < needed:
        primary.failed_tasks = rounds * per_step
        primary.updated_ms = primary.created_ms + rounds * step_ms if rounds else 0
        return
    at = primary.created_ms + needed * step_ms
    primary.failed_tasks = needed * per_step
    primary.rollout, primary.reason, primary.updated_ms = FAILED, CIRCUIT_BREAKER_FAILED, at
    service.event(
        at,
        f"(service {service.name}) (deployment {primary.id}) deployment failed: "
        "tasks failed to start.",
        seq,
    )
    good = service.last_good
    if not rollback or good is None:
        primary.sd_status, primary.sd_reason, primary.finished_ms = "STOPPED", primary.reason, at
        return
    _roll_back(service, primary, good, at, new_id)
    service.event(at, f"(service {service.name}) rolling back to deployment {good.id}.", seq + 1)
    progress(service, now, step_ms, new_id, seq + 2)


def _roll_back(
    service: Service, failed: Deployment, good: Deployment, at: int, new_id: Callable[[], str]
) -> None:
    failed.status = ACTIVE
    failed.sd_status = "ROLLBACK_IN_PROGRESS"
    failed.rollback = {
        "reason": "Circuit breaker triggered rollback.",
        "startedAt": wire_time(at),
        "serviceRevisionArn": good.revision_arn,
    }
    back = Deployment(
        id=new_id(),
        service_deployment_arn=failed.service_deployment_arn,
        revision_arn=good.revision_arn,
        task_definition=good.task_definition,
        desired=service.desired,
        created_ms=at,
        fails=False,
        reason=f"ECS deployment circuit breaker: rolling back to deploymentId {good.id}.",
        rollback_of=failed,
    )
    service.deployments.insert(0, back)


def _complete(service: Service, done: Deployment, at: int, seq: int) -> None:
    done.rollout, done.reason = COMPLETED, f"ECS deployment {done.id} completed."
    done.running, done.updated_ms, done.finished_ms = done.desired, at, at
    for old in service.deployments[1:]:  # drained: their tasks are gone
        old.status, old.running = INACTIVE, 0
    service.deployments[1:] = []
    service.task_definition = done.task_definition
    service.last_good = done
    failed = done.rollback_of
    if failed is None:
        done.sd_status = "SUCCESSFUL"
    else:
        failed.sd_status, failed.finished_ms = "ROLLBACK_SUCCESSFUL", at
        failed.sd_reason = f"Rolled back to {done.task_definition}."
    service.event(at, f"(service {service.name}) (deployment {done.id}) deployment completed.", seq)
    service.event(at, f"(service {service.name}) has reached a steady state.", seq + 1)


def service_deployment(service: Service, d: Deployment, brief: bool) -> JSON:
    """``d`` as ListServiceDeployments (``brief``) or DescribeServiceDeployments shows it."""
    out: JSON = {
        "serviceDeploymentArn": d.service_deployment_arn,
        "serviceArn": service.arn,
        "clusterArn": service.cluster.arn,
        "createdAt": wire_time(d.created_ms),
        "startedAt": wire_time(d.created_ms),
        "status": d.sd_status,
    }
    if d.finished_ms is not None:
        out["finishedAt"] = wire_time(d.finished_ms)
    if d.sd_reason:
        out["statusReason"] = d.sd_reason
    if brief:
        out["targetServiceRevisionArn"] = d.revision_arn
        return out
    out["targetServiceRevision"] = {
        "arn": d.revision_arn,
        "requestedTaskCount": d.desired,
        "runningTaskCount": d.running,
        "pendingTaskCount": d.desired - d.running if d.rollout == IN_PROGRESS else 0,
    }
    out["deploymentConfiguration"] = service.config
    out["updatedAt"] = wire_time(d.updated_ms or d.created_ms)
    enabled, _ = service.breaker()
    out["deploymentCircuitBreaker"] = {
        "status": ("TRIGGERED" if d.rollout == FAILED else "MONITORING") if enabled else "DISABLED",
        "failureCount": d.failed_tasks,
        "threshold": threshold(d.desired),
    }
    if d.rollback is not None:
        out["rollback"] = d.rollback
    return out


@dataclass
class ServiceBook:
    """Every service of the emulated account: (cluster name, service name) -> service."""

    services: dict[tuple[str, str], Service] = field(default_factory=dict)
    events: int = 0  # service event ids issued so far
    created: int = 0  # services created so far: the next one's ListServices order

    def event_ids(self) -> int:
        """The first of four fresh service event ids (a rollback writes up to four)."""
        self.events += 4
        return self.events - 3
