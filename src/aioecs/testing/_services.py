"""The service operations: CreateService, UpdateService, DescribeServices, ListServices,
DeleteService, and the service deployment API (ListServiceDeployments,
DescribeServiceDeployments).

Services are replica services of the ECS deployment controller; their deployments progress as
``_rollouts`` describes (complete, fail, or roll back by circuit breaker). The services do not
run tasks in the task model: their counts are the deployments' own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _rollouts
from ._encoding import JSON
from ._errors import ErrorAnswer, enum_error, invalid
from ._members import (
    NAME_RE,
    boolean,
    decode_token,
    encode_token,
    integer,
    page_size,
    string,
    string_list,
    structure,
    tag_list,
)
from ._records import Cluster
from ._rollouts import Deployment, Service

if TYPE_CHECKING:
    from ._model import EcsModel

_DEFAULT_CONFIG: JSON = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}
# Members echoed back as given: the emulator does not act on them.
_ECHOED = ("networkConfiguration", "platformVersion", "capacityProviderStrategy", "loadBalancers")
_MAX_DESCRIBE_SERVICES = 10


def _not_found() -> ErrorAnswer:
    return ErrorAnswer("ServiceNotFoundException", "Service not found.")


def _find(state: EcsModel, cluster: Cluster, ref: str | None) -> Service:
    if not ref:
        raise invalid("Service cannot be blank.")
    name = ref.rsplit("/", 1)[-1] if ref.startswith("arn:") else ref
    found = state.service_book.services.get((cluster.name, name))
    if found is None or (ref.startswith("arn:") and ref != found.arn):
        raise _not_found()
    _advance(state, found)
    return found


def _advance(state: EcsModel, service: Service) -> None:
    step = round(state.pending_seconds * 1000)
    book = state.service_book
    _rollouts.progress(
        service, state.now_ms(), step, lambda: _deployment_id(state), book.event_ids()
    )


def _deployment_id(state: EcsModel) -> str:
    return f"ecs-svc/{state.rng.randrange(10**18, 10**19)}"


def _start_deployment(state: EcsModel, service: Service, task_definition: str, at: int) -> None:
    """A new PRIMARY deployment (and ServiceDeployment) rolling out ``task_definition``."""
    td = state.task_definition(task_definition)
    suffix = f"{service.cluster.name}/{service.name}/{state.rng.getrandbits(64):016x}"
    deployment = Deployment(
        id=_deployment_id(state),
        service_deployment_arn=f"{state.prefix}service-deployment/{suffix}",
        revision_arn=f"{state.prefix}service-revision/{service.cluster.name}/{service.name}/"
        f"{state.rng.randrange(10**18, 10**19)}",
        task_definition=td.arn,
        desired=service.desired,
        created_ms=at,
        fails=_rollouts.fails(td.containers),
    )
    deployment.reason = f"ECS deployment {deployment.id} in progress."
    _rollouts.supersede(service)
    service.deployments.insert(0, deployment)
    service.history.append(deployment)


def _config(p: JSON, base: JSON) -> JSON:
    given = structure(p, "deploymentConfiguration")
    config = {**base, **given}
    breaker = structure(config, "deploymentCircuitBreaker")
    if breaker and ("enable" not in breaker or "rollback" not in breaker):
        raise invalid("deploymentCircuitBreaker needs both enable and rollback.")
    return config


def create_service(state: EcsModel, p: JSON) -> JSON:
    cluster = state.cluster(string(p, "cluster"))
    name = string(p, "serviceName")
    if not name or not NAME_RE.match(name):
        raise invalid("serviceName must match ^[a-zA-Z0-9\\-_]{1,255}$")
    existing = state.service_book.services.get((cluster.name, name))
    if existing is not None and existing.status != "INACTIVE":
        raise invalid("Creation of service was not idempotent.")
    ref = string(p, "taskDefinition")
    if not ref:
        raise invalid("TaskDefinition cannot be blank.")
    desired = integer(p, "desiredCount")
    at = state.now_ms()
    service = Service(
        seq=state.service_book.created + 1,
        name=name,
        arn=f"{state.prefix}service/{cluster.name}/{name}",
        cluster=cluster,
        created_ms=at,
        launch_type=string(p, "launchType") or "EC2",
        desired=1 if desired is None else desired,
        task_definition=state.task_definition(ref).arn,
        config=_config(p, _DEFAULT_CONFIG),
        extra={k: p[k] for k in _ECHOED if k in p},
        tags=tag_list(p),
    )
    _start_deployment(state, service, ref, at)
    state.service_book.created += 1
    state.service_book.services[(cluster.name, name)] = service
    cluster.services.add(name)
    return {"service": service.wire(False)}


def update_service(state: EcsModel, p: JSON) -> JSON:
    cluster = state.cluster(string(p, "cluster"))
    service = _find(state, cluster, string(p, "service"))
    if service.status != "ACTIVE":
        raise ErrorAnswer("ServiceNotActiveException", "Service was not ACTIVE.")
    desired = integer(p, "desiredCount")
    if desired is not None:
        if desired < 0:
            raise invalid("desiredCount must be at least 0.")
        service.desired = desired
    service.config = _config(p, service.config)
    service.extra.update({k: p[k] for k in _ECHOED if k in p})
    ref = string(p, "taskDefinition")
    target = state.task_definition(ref).arn if ref else service.deployments[0].task_definition
    if target != service.deployments[0].task_definition or boolean(p, "forceNewDeployment"):
        _start_deployment(state, service, target, state.now_ms())
    elif desired is not None:
        primary = service.deployments[0]
        primary.desired = desired
        if primary.rollout == _rollouts.COMPLETED:
            primary.running = desired
    return {"service": service.wire(False)}


def describe_services(state: EcsModel, p: JSON) -> JSON:
    cluster = state.cluster(string(p, "cluster"))
    refs = string_list(p, "services")
    if not refs:
        raise invalid("Services cannot be empty.")
    if len(refs) > _MAX_DESCRIBE_SERVICES:
        raise invalid("Services cannot have more than 10 elements.")
    with_tags = False
    for value in string_list(p, "include"):
        if value != "TAGS":
            raise enum_error("include", value, ("TAGS",))
        with_tags = True
    services, failures = [], []
    for ref in refs:
        try:
            services.append(_find(state, cluster, ref).wire(with_tags))
        except ErrorAnswer:
            arn = ref if ref.startswith("arn:") else f"{state.prefix}service/{cluster.name}/{ref}"
            failures.append({"arn": arn, "reason": "MISSING"})
    return {"services": services, "failures": failures}


def list_services(state: EcsModel, p: JSON) -> JSON:
    cluster = state.cluster(string(p, "cluster"))
    size = page_size(p)
    after = decode_token("services", string(p, "nextToken"))
    launch_type = string(p, "launchType")
    ordered = [
        s
        for s in state.service_book.services.values()
        if s.cluster is cluster
        and s.status == "ACTIVE"
        and (after is None or s.seq > after)
        and (launch_type is None or s.launch_type == launch_type)
    ]
    page = ordered[:size]
    out: JSON = {"serviceArns": [s.arn for s in page]}
    if len(ordered) > size:
        out["nextToken"] = encode_token("services", page[-1].seq)
    return out


def delete_service(state: EcsModel, p: JSON) -> JSON:
    cluster = state.cluster(string(p, "cluster"))
    service = _find(state, cluster, string(p, "service"))
    if service.status != "ACTIVE":
        raise ErrorAnswer("ServiceNotActiveException", "Service was not ACTIVE.")
    if service.desired > 0 and not boolean(p, "force"):
        raise invalid("The service cannot be stopped while it is scaled above 0.")
    service.status = "DRAINING"
    answer = service.wire(False)
    service.status = "INACTIVE"
    cluster.services.discard(service.name)
    return {"service": answer}


def list_service_deployments(state: EcsModel, p: JSON) -> JSON:
    cluster = state.cluster(string(p, "cluster"))
    service = _find(state, cluster, string(p, "service"))
    wanted = set(string_list(p, "status"))
    created = structure(p, "createdAt")
    after, before = created.get("after"), created.get("before")
    size = integer(p, "maxResults") or 20
    start = decode_token("service-deployments", string(p, "nextToken")) or 0
    chosen = [
        d
        for d in reversed(service.history)  # newest first
        if (not wanted or d.sd_status in wanted)
        and (after is None or d.created_ms >= after * 1000)
        and (before is None or d.created_ms <= before * 1000)
    ]
    page = chosen[start : start + size]
    out: JSON = {
        "serviceDeployments": [_rollouts.service_deployment(service, d, True) for d in page]
    }
    if start + size < len(chosen):
        out["nextToken"] = encode_token("service-deployments", start + size)
    return out


def describe_service_deployments(state: EcsModel, p: JSON) -> JSON:
    arns = string_list(p, "serviceDeploymentArns")
    if not arns:
        raise invalid("serviceDeploymentArns cannot be empty.")
    found, failures = [], []
    for arn in arns:
        match = _service_deployment(state, arn)
        if match is None:
            failures.append({"arn": arn, "reason": "MISSING"})
        else:
            found.append(_rollouts.service_deployment(*match, False))
    return {"serviceDeployments": found, "failures": failures}


def _service_deployment(state: EcsModel, arn: str) -> tuple[Service, Deployment] | None:
    for service in state.service_book.services.values():
        for d in service.history:
            if d.service_deployment_arn == arn:
                _advance(state, service)
                return service, d
    return None
