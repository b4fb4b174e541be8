"""The emulated account's records - clusters, task definitions, container instances, tasks -
and their wire forms, as DescribeClusters, RegisterTaskDefinition and DescribeTasks show them.

A task's wire form is cached until it changes (its ``version`` goes up on every change, as in
ECS), both as a dict and as encoded JSON, so describing 100 unchanged tasks is a join of bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._encoding import JSON, RawJSON, json_bytes, wire_time

PENDING, RUNNING, STOPPED = "PENDING", "RUNNING", "STOPPED"
_FIRST_DYNAMIC_PORT = 32768


@dataclass(eq=False)
class Cluster:
    seq: int
    name: str
    arn: str
    created_ms: int
    tags: list[JSON]
    settings: list[JSON]
    running: int = 0
    pending: int = 0
    instances: dict[str, ContainerInstance] = field(default_factory=dict)
    services: set[str] = field(default_factory=set)
    # (desiredStatus, filter member, value) -> ascending task sequence numbers
    index: dict[tuple[str, str, str], list[int]] = field(default_factory=dict)
    placement_cursor: int = 0

    def wire(self, include: set[str]) -> JSON:
        out: JSON = {
            "clusterArn": self.arn,
            "clusterName": self.name,
            "status": "ACTIVE",
            "registeredContainerInstancesCount": len(self.instances),
            "runningTasksCount": self.running,
            "pendingTasksCount": self.pending,
            "activeServicesCount": len(self.services),
            "statistics": [],
            "capacityProviders": [],
            "defaultCapacityProviderStrategy": [],
        }
        if "TAGS" in include:
            out["tags"] = self.tags
        if "SETTINGS" in include:
            out["settings"] = self.settings
        return out


@dataclass(eq=False)
class TaskDefinition:
    family: str
    revision: int
    arn: str
    containers: list[JSON]
    network_mode: str
    cpu: str | None
    memory: str | None
    requires_compatibilities: list[str]
    tags: list[JSON]
    registered_ms: int
    extra: JSON

    def wire(self, registered_by: str) -> JSON:
        compat = ["EC2"]
        if self.network_mode == "awsvpc" and self.cpu and self.memory:
            compat.append("FARGATE")
        out: JSON = {
            "taskDefinitionArn": self.arn,
            "containerDefinitions": self.containers,
            "family": self.family,
            "networkMode": self.network_mode,
            "revision": self.revision,
            "volumes": [],
            "status": "ACTIVE",
            "requiresAttributes": [],
            "placementConstraints": [],
            "compatibilities": compat,
            "requiresCompatibilities": self.requires_compatibilities,
            "registeredAt": wire_time(self.registered_ms),
            "registeredBy": registered_by,
            **self.extra,
        }
        if self.cpu is not None:
            out["cpu"] = self.cpu
        if self.memory is not None:
            out["memory"] = self.memory
        return out


@dataclass(eq=False)
class ContainerInstance:
    arn: str
    cluster: Cluster
    ec2_instance_id: str
    availability_zone: str
    resources: list[JSON]
    attributes: list[JSON]
    version_info: JSON
    tags: list[JSON]
    registered_ms: int
    running: int = 0
    pending: int = 0
    version: int = 1
    next_port: int = _FIRST_DYNAMIC_PORT

    def host_port(self) -> int:
        port = self.next_port
        self.next_port = port + 1 if port < 60999 else _FIRST_DYNAMIC_PORT
        return port

    def wire(self) -> JSON:
        return {
            "containerInstanceArn": self.arn,
            "ec2InstanceId": self.ec2_instance_id,
            "version": self.version,
            "versionInfo": self.version_info,
            "remainingResources": self.resources,
            "registeredResources": self.resources,
            "status": "ACTIVE",
            "agentConnected": True,
            "runningTasksCount": self.running,
            "pendingTasksCount": self.pending,
            "attributes": self.attributes,
            "registeredAt": wire_time(self.registered_ms),
            "attachments": [],
            "tags": self.tags,
        }


@dataclass(eq=False)
class Container:
    arn: str
    name: str
    image: str
    cpu: int
    memory: int | None
    memory_reservation: int | None
    bindings: list[JSON]  # networkBindings, reported once the container runs
    runtime_id: str
    image_digest: str
    exit_code: int | None = None
    reason: str | None = None
    essential: bool = True
    planned_exit: int | None = None  # AIOECS_EXIT_CODE: see _outcomes
    fail: str | None = None  # AIOECS_FAIL


@dataclass(eq=False)
class Eni:
    attachment_id: str
    eni_id: str
    subnet: str
    mac: str
    ip: str
    dns: str


@dataclass(eq=False)
class Task:
    seq: int
    task_id: str
    arn: str
    cluster: Cluster
    definition: TaskDefinition
    instance: ContainerInstance | None
    launch_type: str
    capacity_provider: str | None
    availability_zone: str
    group: str
    started_by: str | None
    service_name: str | None
    tags: list[JSON]
    overrides: JSON
    cpu: str
    memory: str
    containers: list[Container]
    eni: Eni | None
    created_ms: int
    last_status: str = PENDING
    desired_status: str = RUNNING
    version: int = 1
    connectivity_ms: int | None = None
    pull_started_ms: int | None = None
    pull_stopped_ms: int | None = None
    started_ms: int | None = None
    stopping_ms: int | None = None
    stopped_ms: int | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None
    run_seconds: float | None = None  # AIOECS_RUN_SECONDS: see _outcomes
    visible_ms: int = 0  # DescribeTasks answers MISSING before this (eventual consistency)
    _wire: JSON | None = None
    _json: RawJSON | None = None
    arn_json: RawJSON = field(init=False)  # the ARN as a JSON string, for ListTasks pages

    def __post_init__(self) -> None:
        self.arn_json = RawJSON(json_bytes(self.arn))

    def index_keys(self) -> list[tuple[str, str]]:
        keys = [("", ""), ("family", self.definition.family), ("launchType", self.launch_type)]
        if self.started_by is not None:
            keys.append(("startedBy", self.started_by))
        if self.service_name is not None:
            keys.append(("serviceName", self.service_name))
        if self.instance is not None:
            keys.append(("containerInstance", self.instance.arn))
        return keys

    def matches(self, member: str, value: str) -> bool:
        if member == "family":
            return self.definition.family == value
        if member == "launchType":
            return self.launch_type == value
        if member == "startedBy":
            return self.started_by == value
        if member == "serviceName":
            return self.service_name == value
        if member == "containerInstance":
            return self.instance is not None and self.instance.arn == value
        return True

    def changed(self) -> None:
        """Every change bumps ``version`` (as ECS does) and drops the cached wire form."""
        self.version += 1
        self._wire = self._json = None

    def wire(self, include_tags: bool) -> JSON:
        """The DescribeTasks/RunTask form; cached per version, tags only when asked for."""
        out = self._wire
        if out is None:
            out = self._wire = self._build_wire()
        if include_tags:
            out = {**out, "tags": self.tags}
        return out

    def wire_json(self, include_tags: bool) -> RawJSON:
        """:meth:`wire` as encoded JSON, also cached per version."""
        text = self._json
        if text is None:
            text = self._json = RawJSON(json_bytes(self.wire(False)))
        if include_tags:
            return RawJSON(b"".join((text[:-1], b',"tags":', json_bytes(self.tags), b"}")))
        return text

    def _build_wire(self) -> JSON:
        status = self.last_status
        started = self.started_ms is not None
        containers = []
        for c in self.containers:
            cw: JSON = {
                "containerArn": c.arn,
                "taskArn": self.arn,
                "name": c.name,
                "image": c.image,
                "lastStatus": status,
            }
            if started:
                cw["imageDigest"] = c.image_digest
                cw["runtimeId"] = c.runtime_id
            if c.exit_code is not None:
                cw["exitCode"] = c.exit_code
            if c.reason is not None:
                cw["reason"] = c.reason
            if started and status == RUNNING:
                cw["networkBindings"] = c.bindings
            else:
                cw["networkBindings"] = []
            cw["networkInterfaces"] = (
                [{"attachmentId": self.eni.attachment_id, "privateIpv4Address": self.eni.ip}]
                if self.eni is not None
                else []
            )
            cw["healthStatus"] = "UNKNOWN"
            cw["cpu"] = str(c.cpu)
            if c.memory is not None:
                cw["memory"] = str(c.memory)
            if c.memory_reservation is not None:
                cw["memoryReservation"] = str(c.memory_reservation)
            containers.append(cw)

        attachments = []
        if self.eni is not None:
            eni = self.eni
            attachments.append(
                {
                    "id": eni.attachment_id,
                    "type": "ElasticNetworkInterface",
                    "status": "DELETED" if status == STOPPED else "ATTACHED",
                    "details": [
                        {"name": "subnetId", "value": eni.subnet},
                        {"name": "networkInterfaceId", "value": eni.eni_id},
                        {"name": "macAddress", "value": eni.mac},
                        {"name": "privateDnsName", "value": eni.dns},
                        {"name": "privateIPv4Address", "value": eni.ip},
                    ],
                }
            )

        out: JSON = {
            "attachments": attachments,
            "attributes": [{"name": "ecs.cpu-architecture", "value": "x86_64"}],
            "availabilityZone": self.availability_zone,
            "clusterArn": self.cluster.arn,
            "containers": containers,
            "cpu": self.cpu,
            "createdAt": wire_time(self.created_ms),
            "desiredStatus": self.desired_status,
            "enableExecuteCommand": False,
            "group": self.group,
            "healthStatus": "UNKNOWN",
            "lastStatus": status,
            "launchType": self.launch_type,
            "memory": self.memory,
            "overrides": self.overrides,
            "taskArn": self.arn,
            "taskDefinitionArn": self.definition.arn,
            "version": self.version,
        }
        if self.capacity_provider is not None:
            out["capacityProviderName"] = self.capacity_provider
        if self.instance is not None:
            out["containerInstanceArn"] = self.instance.arn
        if self.connectivity_ms is not None:
            out["connectivity"] = "CONNECTED"
            out["connectivityAt"] = wire_time(self.connectivity_ms)
        if self.pull_started_ms is not None:
            out["pullStartedAt"] = wire_time(self.pull_started_ms)
        if self.pull_stopped_ms is not None:
            out["pullStoppedAt"] = wire_time(self.pull_stopped_ms)
        if self.started_ms is not None:
            out["startedAt"] = wire_time(self.started_ms)
        if self.started_by is not None:
            out["startedBy"] = self.started_by
        if self.stopping_ms is not None:
            out["stoppingAt"] = wire_time(self.stopping_ms)
        if self.stop_code is not None:
            out["stopCode"] = self.stop_code
        if self.stopped_reason is not None:
            out["stoppedReason"] = self.stopped_reason
        if self.stopped_ms is not None:
            out["executionStoppedAt"] = wire_time(self.stopped_ms)
            out["stoppedAt"] = wire_time(self.stopped_ms)
        if self.launch_type == "FARGATE":
            out["platformVersion"] = "1.4.0"
            out["platformFamily"] = "Linux"
            out["ephemeralStorage"] = {"sizeInGiB": 20}
            out["fargateEphemeralStorage"] = {"sizeInGiB": 20}
        return out
