"""Task metadata v4, typed: what the ECS agent tells a container about its task and itself.

The documents are the agent's, not ECS's API (PascalCase keys, RFC 3339 times with
nanoseconds, a revision as a string) and grow with every agent release, so decoding is
lenient: unknown keys are ignored (and kept in `raw`), a missing or mistyped optional value
becomes None or empty. Only what identifies the document (a task's ARN, a container's name)
is required. See https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4.html
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

from ._agent import DEFAULT_TIMEOUT, METADATA_VARIABLE, AgentConnection, endpoint
from ._exceptions import AgentError

__all__ = [
    "ContainerMetadata",
    "ContainerNetwork",
    "ContainerPort",
    "ResourceLimits",
    "TaskMetadata",
    "container_metadata",
    "task_metadata",
]


@attrs.frozen(kw_only=True)
class ResourceLimits:
    """`Limits`: for a task, `cpu` in vCPUs (0.25); for a container, in CPU units (256).
    `memory` in MiB. None where the task definition set no limit."""

    cpu: float | None = None
    memory: int | None = None


@attrs.frozen(kw_only=True)
class ContainerNetwork:
    """One of a container's `Networks`: `network_mode` is `awsvpc`, `bridge`, `host`..."""

    network_mode: str | None = None
    ipv4_addresses: tuple[str, ...] = ()
    ipv6_addresses: tuple[str, ...] = ()
    attachment_index: int | None = None
    mac_address: str | None = None
    ipv4_subnet_cidr_block: str | None = None
    ipv6_subnet_cidr_block: str | None = None
    subnet_gateway_ipv4_address: str | None = None
    private_dns_name: str | None = None
    domain_name_servers: tuple[str, ...] = ()
    domain_name_search_list: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class ContainerPort:
    """One of a container's published `Ports` (bridge and host network modes)."""

    container_port: int | None = None
    host_port: int | None = None
    protocol: str | None = None
    host_ip: str | None = None


@attrs.frozen(kw_only=True)
class ContainerMetadata:
    """A container as the agent describes it (`$ECS_CONTAINER_METADATA_URI_V4`, or one of
    `TaskMetadata.containers`). `raw` is the whole document, fields not modelled here included."""

    name: str
    docker_id: str | None = None
    docker_name: str | None = None
    image: str | None = None
    image_id: str | None = None
    labels: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    desired_status: str | None = None
    known_status: str | None = None
    limits: ResourceLimits = ResourceLimits()
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    health_status: str | None = None
    type: str | None = None
    container_arn: str | None = None
    log_driver: str | None = None
    log_options: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    networks: tuple[ContainerNetwork, ...] = ()
    ports: tuple[ContainerPort, ...] = ()
    restart_count: int | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False, hash=False)


@attrs.frozen(kw_only=True)
class TaskMetadata:
    """The calling container's task (`$ECS_CONTAINER_METADATA_URI_V4/task`).

    `cluster` is the cluster's ARN on Fargate and its name on EC2, as the agent reports it.
    Times are timezone-aware UTC. `raw` is the whole document, fields not modelled here
    included.
    """

    task_arn: str
    cluster: str | None = None
    family: str | None = None
    revision: int | None = None
    service_name: str | None = None
    desired_status: str | None = None
    known_status: str | None = None
    availability_zone: str | None = None
    launch_type: str | None = None
    vpc_id: str | None = None
    limits: ResourceLimits = ResourceLimits()
    pull_started_at: datetime | None = None
    pull_stopped_at: datetime | None = None
    execution_stopped_at: datetime | None = None
    containers: tuple[ContainerMetadata, ...] = ()
    task_tags: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    container_instance_tags: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False, hash=False)


async def task_metadata(*, timeout: float = DEFAULT_TIMEOUT) -> TaskMetadata:
    """The task this code runs in, from the ECS agent's task metadata endpoint v4.

    Raises `aioecs.errors.ConfigError` at once outside an ECS task
    (`ECS_CONTAINER_METADATA_URI_V4` unset) and `aioecs.errors.AgentError` if the agent
    fails or does not answer within `timeout` seconds (retries included).
    """
    url = endpoint(METADATA_VARIABLE) + "/task"
    async with AgentConnection(timeout) as agent:
        document = await agent.call("task metadata", "GET", url)
    return decode_task(_object("task metadata", document))


async def container_metadata(*, timeout: float = DEFAULT_TIMEOUT) -> ContainerMetadata:
    """The container this code runs in, from the ECS agent's metadata endpoint v4.

    Errors as for `task_metadata`.
    """
    url = endpoint(METADATA_VARIABLE)
    async with AgentConnection(timeout) as agent:
        document = await agent.call("container metadata", "GET", url)
    return decode_container(_object("container metadata", document))


def _object(what: str, document: object) -> Mapping[str, Any]:
    if not isinstance(document, dict):
        raise AgentError(
            f"{what}: the ECS agent answered {type(document).__name__}, not a JSON object",
            code="ResponseError",
        )
    return document


def decode_task(doc: Mapping[str, Any]) -> TaskMetadata:
    """A task metadata document as `TaskMetadata`; `AgentError` only without a `TaskARN`."""
    task_arn = _str(doc, "TaskARN")
    if task_arn is None:
        raise AgentError("task metadata: the document has no TaskARN", code="ResponseError")
    return TaskMetadata(
        task_arn=task_arn,
        cluster=_str(doc, "Cluster"),
        family=_str(doc, "Family"),
        revision=_int(doc, "Revision"),
        service_name=_str(doc, "ServiceName"),
        desired_status=_str(doc, "DesiredStatus"),
        known_status=_str(doc, "KnownStatus"),
        availability_zone=_str(doc, "AvailabilityZone"),
        launch_type=_str(doc, "LaunchType"),
        vpc_id=_str(doc, "VPCID"),
        limits=_limits(doc),
        pull_started_at=_time(doc, "PullStartedAt"),
        pull_stopped_at=_time(doc, "PullStoppedAt"),
        execution_stopped_at=_time(doc, "ExecutionStoppedAt"),
        containers=tuple(
            decode_container(c) for c in _objects(doc, "Containers") if _str(c, "Name")
        ),
        task_tags=_strings(doc, "TaskTags"),
        container_instance_tags=_strings(doc, "ContainerInstanceTags"),
        raw=doc,
    )


def decode_container(doc: Mapping[str, Any]) -> ContainerMetadata:
    """A container metadata document as `ContainerMetadata`; `AgentError` only without a
    `Name`."""
    name = _str(doc, "Name")
    if name is None:
        raise AgentError("container metadata: the document has no Name", code="ResponseError")
    health = doc.get("Health")
    return ContainerMetadata(
        name=name,
        docker_id=_str(doc, "DockerId"),
        docker_name=_str(doc, "DockerName"),
        image=_str(doc, "Image"),
        image_id=_str(doc, "ImageID"),
        labels=_strings(doc, "Labels"),
        desired_status=_str(doc, "DesiredStatus"),
        known_status=_str(doc, "KnownStatus"),
        limits=_limits(doc),
        created_at=_time(doc, "CreatedAt"),
        started_at=_time(doc, "StartedAt"),
        finished_at=_time(doc, "FinishedAt"),
        exit_code=_int(doc, "ExitCode"),
        health_status=_str(health, "status") if isinstance(health, dict) else None,
        type=_str(doc, "Type"),
        container_arn=_str(doc, "ContainerARN"),
        log_driver=_str(doc, "LogDriver"),
        log_options=_strings(doc, "LogOptions"),
        networks=tuple(_network(n) for n in _objects(doc, "Networks")),
        ports=tuple(_port(p) for p in _objects(doc, "Ports")),
        restart_count=_int(doc, "RestartCount"),
        raw=doc,
    )


def _network(doc: Mapping[str, Any]) -> ContainerNetwork:
    return ContainerNetwork(
        network_mode=_str(doc, "NetworkMode"),
        ipv4_addresses=_list(doc, "IPv4Addresses"),
        ipv6_addresses=_list(doc, "IPv6Addresses"),
        attachment_index=_int(doc, "AttachmentIndex"),
        mac_address=_str(doc, "MACAddress"),
        ipv4_subnet_cidr_block=_str(doc, "IPv4SubnetCIDRBlock"),
        ipv6_subnet_cidr_block=_str(doc, "IPv6SubnetCIDRBlock"),
        subnet_gateway_ipv4_address=_str(doc, "SubnetGatewayIpv4Address"),
        private_dns_name=_str(doc, "PrivateDNSName"),
        domain_name_servers=_list(doc, "DomainNameServers"),
        domain_name_search_list=_list(doc, "DomainNameSearchList"),
    )


def _port(doc: Mapping[str, Any]) -> ContainerPort:
    return ContainerPort(
        container_port=_int(doc, "ContainerPort"),
        host_port=_int(doc, "HostPort"),
        protocol=_str(doc, "Protocol"),
        host_ip=_str(doc, "HostIp"),
    )


def _limits(doc: Mapping[str, Any]) -> ResourceLimits:
    limits = doc.get("Limits")
    if not isinstance(limits, dict):
        return ResourceLimits()
    return ResourceLimits(cpu=_float(limits, "CPU"), memory=_int(limits, "Memory"))


# -- lenient readers: a value of the wrong type is treated as absent ---------------------------


def _str(doc: Mapping[str, Any], key: str) -> str | None:
    value = doc.get(key)
    return value if isinstance(value, str) and value else None


def _int(doc: Mapping[str, Any], key: str) -> int | None:
    value = doc.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)  # "Revision": "3"
    return None


def _float(doc: Mapping[str, Any], key: str) -> float | None:
    value = doc.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _list(doc: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = doc.get(key)
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _strings(doc: Mapping[str, Any], key: str) -> dict[str, str]:
    value = doc.get(key)
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(v, str)}


def _objects(doc: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = doc.get(key)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([Zz])|([+-])(\d\d):(\d\d))"
)


def _time(doc: Mapping[str, Any], key: str) -> datetime | None:
    """An RFC 3339 time (the agent writes Go's: nanoseconds, `Z`) as an aware UTC datetime,
    cut to microseconds; None if absent, unreadable, or Go's zero time (year 1)."""
    value = doc.get(key)
    return parse_time(value) if isinstance(value, str) else None


def parse_time(value: str) -> datetime | None:
    match = _RFC3339.fullmatch(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.group(1, 2, 3, 4, 5, 6))
    micro = int((match[7] or "0")[:6].ljust(6, "0"))
    try:
        stamp = datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone.utc)
    except ValueError:
        return None
    if year == 1:
        return None
    if match[9]:
        offset = timedelta(hours=int(match[10]), minutes=int(match[11]))
        stamp -= offset if match[9] == "+" else -offset
    return stamp
