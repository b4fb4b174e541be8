"""The in-memory model behind LocalECS: clusters, task definitions, container instances, tasks.

Everything here is synchronous and transport-free: each ECS operation is a method that takes the
decoded JSON request (camelCase members, as in botocore's ECS service model) and returns the JSON
response as a dict, or raises :class:`EcsError`. The HTTP side (``_server.py``) only routes.

Cost model (the emulator serves fan-out benchmarks with 10k+ tasks):

* every task has a creation sequence number; per cluster, for each desiredStatus and each ListTasks
  filter value (family, startedBy, serviceName, containerInstance, launchType) there is a sorted
  list of sequence numbers. ListTasks bisects to the page start (the opaque nextToken carries the
  last sequence number returned) and slices one page: O(log n + page), never a scan of the cluster;
* DescribeTasks is one dict lookup per ARN, and a task's wire form is cached until it changes (its
  ``version`` goes up on every change, as in ECS);
* the PENDING -> RUNNING -> STOPPED lifecycle is driven by a heap of due transitions that each
  request drains up to "now" (:meth:`EcsState.advance`): O(transitions due), no background tasks.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
import random
import re
from bisect import bisect_right, insort
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

PENDING, RUNNING, STOPPED = "PENDING", "RUNNING", "STOPPED"
_DESIRED_STATUSES = (RUNNING, PENDING, STOPPED)
_LAUNCH_TYPES = ("EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES")
_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,255}$")
_MAX_PAGE = 100
_MAX_DESCRIBE = 100
_FIRST_DYNAMIC_PORT = 32768
_DEFAULT_IMAGE = "public.ecr.aws/docker/library/nginx:latest"
_DEFAULT_AGENT = {"agentVersion": "1.89.2", "agentHash": "2a9b4e3c", "dockerVersion": "25.0.8"}


class EcsError(Exception):
    """An ECS error response: ``__type`` code, human message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def _invalid(message: str) -> EcsError:
    return EcsError("InvalidParameterException", message)


def _cluster_not_found() -> EcsError:
    return EcsError("ClusterNotFoundException", "Cluster not found.")


def _enum_error(member: str, value: object, allowed: Iterable[str]) -> EcsError:
    # The wording of AWS's (Coral) model validation errors.
    return _invalid(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: Member must satisfy enum value set: [{', '.join(allowed)}]"
    )


# --- request member accessors ---------------------------------------------------------------
# botocore validates types on the client side, but the emulator also serves our own client, so
# a wrongly typed member gets the SerializationException a real endpoint would answer with.


def _type_error(name: str, expected: str) -> EcsError:
    return EcsError("SerializationException", f"Member '{name}' must be of type {expected}.")


def _str(p: JSON, name: str) -> str | None:
    v = p.get(name)
    if v is None or isinstance(v, str):
        return v
    raise _type_error(name, "string")


def _int(p: JSON, name: str) -> int | None:
    v = p.get(name)
    if v is None or (isinstance(v, int) and not isinstance(v, bool)):
        return v
    raise _type_error(name, "integer")


def _bool(p: JSON, name: str) -> bool:
    v = p.get(name)
    if v is None or isinstance(v, bool):
        return bool(v)
    raise _type_error(name, "boolean")


def _list_of(p: JSON, name: str, kind: type[Any], what: str) -> list[Any]:
    v = p.get(name)
    if v is None:
        return []
    if isinstance(v, list) and all(isinstance(x, kind) for x in v):
        return v
    raise _type_error(name, f"list of {what}")


def _str_list(p: JSON, name: str) -> list[str]:
    return _list_of(p, name, str, "strings")


def _obj(p: JSON, name: str) -> JSON:
    v = p.get(name)
    if v is None:
        return {}
    if isinstance(v, dict):
        return v
    raise _type_error(name, "structure")


def _obj_list(p: JSON, name: str) -> list[JSON]:
    return _list_of(p, name, dict, "structures")


def _tags(p: JSON) -> list[JSON]:
    tags = _obj_list(p, "tags")
    if len(tags) > 50:
        raise _invalid("The number of tags exceeds the limit of 50.")
    out = []
    for t in tags:
        key = t.get("key")
        if not isinstance(key, str) or not key:
            raise _invalid("Tag keys must be non-empty strings.")
        out.append({"key": key, "value": str(t.get("value", ""))})
    return out


_encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _json_bytes(value: object) -> bytes:
    return _encode_json(value).encode()


class RawJSON(bytes):
    """Already-encoded JSON (UTF-8), spliced verbatim into a response by :func:`encode`."""


def encode(response: JSON) -> bytes:
    """A response dict as a UTF-8 JSON body. A value may be a list of :class:`RawJSON` fragments
    (cached task JSON): DescribeTasks of 100 tasks then costs one join instead of re-encoding
    100 nested dicts, which dominated its cost. Pieces are joined once, with no large
    intermediate copies."""
    pieces = [b"{"]
    for key, value in response.items():
        if len(pieces) > 1:
            pieces.append(b",")
        pieces.append(_json_bytes(key))
        if isinstance(value, list) and value and isinstance(value[0], RawJSON):
            pieces += (b":[", b",".join(value), b"]")
        else:
            pieces += (b":", _json_bytes(value))
    pieces.append(b"}")
    return b"".join(pieces)


def _ts(ms: int) -> float:
    """Epoch milliseconds -> the wire form: epoch seconds with a millisecond fraction."""
    return ms / 1000


def encode_token(kind: str, after: int) -> str:
    """An opaque paging token: where the previous page ended, for one kind of listing."""
    raw = json.dumps({"v": 1, "k": kind, "after": after}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_token(kind: str, token: str | None) -> int | None:
    if token is None:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if isinstance(data, dict) and data.get("k") == kind:
            after = data.get("after")
            if isinstance(after, int) and not isinstance(after, bool):
                return after
    except (ValueError, binascii.Error):
        pass
    raise _invalid("Invalid nextToken.")


def _page_size(p: JSON) -> int:
    n = _int(p, "maxResults")
    if n is None:
        return _MAX_PAGE
    if not 1 <= n <= _MAX_PAGE:
        raise _invalid("maxResults must be between 1 and 100.")
    return n


# --- the model ----------------------------------------------------------------------------


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
            "registeredAt": _ts(self.registered_ms),
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
            "registeredAt": _ts(self.registered_ms),
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
    _wire: JSON | None = None
    _json: RawJSON | None = None
    arn_json: RawJSON = field(init=False)  # the ARN as a JSON string, for ListTasks pages

    def __post_init__(self) -> None:
        self.arn_json = RawJSON(_json_bytes(self.arn))

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
            text = self._json = RawJSON(_json_bytes(self.wire(False)))
        if include_tags:
            return RawJSON(b"".join((text[:-1], b',"tags":', _json_bytes(self.tags), b"}")))
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
            "createdAt": _ts(self.created_ms),
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
            out["connectivityAt"] = _ts(self.connectivity_ms)
        if self.pull_started_ms is not None:
            out["pullStartedAt"] = _ts(self.pull_started_ms)
        if self.pull_stopped_ms is not None:
            out["pullStoppedAt"] = _ts(self.pull_stopped_ms)
        if self.started_ms is not None:
            out["startedAt"] = _ts(self.started_ms)
        if self.started_by is not None:
            out["startedBy"] = self.started_by
        if self.stopping_ms is not None:
            out["stoppingAt"] = _ts(self.stopping_ms)
        if self.stop_code is not None:
            out["stopCode"] = self.stop_code
        if self.stopped_reason is not None:
            out["stoppedReason"] = self.stopped_reason
        if self.stopped_ms is not None:
            out["executionStoppedAt"] = _ts(self.stopped_ms)
            out["stoppedAt"] = _ts(self.stopped_ms)
        if self.launch_type == "FARGATE":
            out["platformVersion"] = "1.4.0"
            out["platformFamily"] = "Linux"
            out["ephemeralStorage"] = {"sizeInGiB": 20}
            out["fargateEphemeralStorage"] = {"sizeInGiB": 20}
        return out


# --- the state ----------------------------------------------------------------------------


class EcsState:
    """All clusters and tasks of one emulated account in one region, plus the ECS operations.

    ``clock`` returns epoch seconds (``time.time`` by default; tests pass a fake one), ``seed``
    makes generated ids reproducible. ``pending_seconds`` is how long a started task stays
    PENDING, ``stop_seconds`` how long a stop request takes to reach lastStatus STOPPED, and
    ``run_seconds`` (if set) how long tasks run before their essential container exits by itself.
    """

    def __init__(
        self,
        *,
        region: str,
        account_id: str,
        clock: Callable[[], float],
        seed: int | None = None,
        pending_seconds: float = 0.0,
        stop_seconds: float = 0.0,
        run_seconds: float | None = None,
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.prefix = f"arn:aws:ecs:{region}:{account_id}:"
        self.clock = clock
        self.pending_seconds = pending_seconds
        self.stop_seconds = stop_seconds
        self.run_seconds = run_seconds
        self._rng = random.Random(seed)
        self._seq = 0
        self.clusters: dict[str, Cluster] = {}
        self.task_definitions: dict[str, list[TaskDefinition]] = {}  # family -> revisions
        self.tasks: dict[str, Task] = {}  # ARN -> task
        self._by_seq: dict[int, Task] = {}
        self._client_tokens: dict[str, list[str]] = {}
        self._digests: dict[str, str] = {}  # image -> digest: one digest per image, as in ECR
        # (due ms, tiebreak, task seq, task version when scheduled, target lastStatus)
        self._due: list[tuple[int, int, int, int, str]] = []
        self._operations = self._operation_table()

    # -- plumbing ---------------------------------------------------------------------------

    def now_ms(self) -> int:
        return round(self.clock() * 1000)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _hex(self, bits: int = 128) -> str:
        return f"{self._rng.getrandbits(bits):0{bits // 4}x}"

    def _uuid(self) -> str:
        h = self._hex()  # formatted by hand: uuid.UUID() is a noticeable part of seeding
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    def _image_digest(self, image: str) -> str:
        digest = self._digests.get(image)
        if digest is None:
            digest = self._digests[image] = f"sha256:{self._hex(256)}"
        return digest

    def operation(self, name: str) -> Callable[[JSON], JSON] | None:
        """The handler for an operation name (``ListTasks``), or None if not emulated."""
        return self._operations.get(name)

    def _operation_table(self) -> dict[str, Callable[[JSON], JSON]]:
        return {
            "CreateCluster": self.create_cluster,
            "ListClusters": self.list_clusters,
            "DescribeClusters": self.describe_clusters,
            "RegisterTaskDefinition": self.register_task_definition,
            "RegisterContainerInstance": self.register_container_instance,
            "RunTask": self.run_task,
            "StartTask": self.start_task_op,
            "StopTask": self.stop_task_op,
            "ListTasks": self.list_tasks,
            "DescribeTasks": self.describe_tasks,
        }

    # -- lookups ----------------------------------------------------------------------------

    def cluster(self, ref: str | None) -> Cluster:
        """A cluster by short name or exact ARN; none given means ``default``, as in ECS."""
        if not ref:
            ref = "default"
        if ref.startswith("arn:"):
            head = self.prefix + "cluster/"
            name = ref[len(head) :] if ref.startswith(head) else ""
        else:
            name = ref
        found = self.clusters.get(name)
        if found is None:
            raise _cluster_not_found()
        return found

    def _task_arn(self, cluster: Cluster, ref: str) -> str:
        return ref if ref.startswith("arn:") else f"{self.prefix}task/{cluster.name}/{ref}"

    def _instance_arn(self, cluster: Cluster, ref: str) -> str:
        if ref.startswith("arn:"):
            return ref
        return f"{self.prefix}container-instance/{cluster.name}/{ref}"

    def task_definition(self, ref: str) -> TaskDefinition:
        """``family``, ``family:revision`` or a full ARN; a bare family means the latest."""
        head = self.prefix + "task-definition/"
        if ref.startswith(head):
            ref = ref[len(head) :]
        family, _, rev = ref.partition(":")
        revisions = self.task_definitions.get(family)
        if revisions:
            if not rev:
                return revisions[-1]
            if rev.isdigit() and 1 <= int(rev) <= len(revisions):
                return revisions[int(rev) - 1]
        raise EcsError("ClientException", "TaskDefinition not found.")

    # -- task index and lifecycle -------------------------------------------------------------

    def _index_add(self, task: Task) -> None:
        index, desired = task.cluster.index, task.desired_status
        for member, value in task.index_keys():
            seqs = index.setdefault((desired, member, value), [])
            if not seqs or seqs[-1] < task.seq:
                seqs.append(task.seq)  # new tasks: the common, O(1) case
            else:
                insort(seqs, task.seq)

    def _index_remove(self, task: Task) -> None:
        index, desired = task.cluster.index, task.desired_status
        for member, value in task.index_keys():
            seqs = index[(desired, member, value)]
            del seqs[bisect_right(seqs, task.seq) - 1]

    def _set_desired(self, task: Task, desired: str) -> None:
        if task.desired_status != desired:
            self._index_remove(task)
            task.desired_status = desired
            self._index_add(task)

    def _count(self, task: Task, status: str, delta: int) -> None:
        targets: list[Cluster | ContainerInstance] = [task.cluster]
        if task.instance is not None:
            targets.append(task.instance)
        for t in targets:
            if status == RUNNING:
                t.running += delta
            elif status == PENDING:
                t.pending += delta

    def _schedule(self, task: Task, after_seconds: float, status: str, at_ms: int) -> None:
        due = at_ms + round(after_seconds * 1000)
        heapq.heappush(self._due, (due, self._next_seq(), task.seq, task.version, status))

    def advance(self, now_ms: int | None = None) -> None:
        """Apply every time-driven transition due by ``now_ms``; each request calls this first."""
        now = self.now_ms() if now_ms is None else now_ms
        due = self._due
        while due and due[0][0] <= now:
            at, _, seq, version, status = heapq.heappop(due)
            task = self._by_seq.get(seq)
            if task is None or task.version != version:
                continue  # changed since (stopped, or forced by a test): stale
            if status == RUNNING:
                self._mark_running(task, at)
            else:
                self._mark_stopped(task, at)

    def _mark_running(self, task: Task, at: int) -> None:
        if task.last_status != PENDING:
            return
        self._count(task, PENDING, -1)
        self._count(task, RUNNING, +1)
        span = max(at - task.created_ms, 0)
        task.connectivity_ms = task.created_ms + span // 8
        task.pull_started_ms = task.created_ms + span // 4
        task.pull_stopped_ms = task.created_ms + (span * 3) // 4
        task.started_ms = at
        task.last_status = RUNNING
        task.changed()
        if self.run_seconds is not None and task.desired_status == RUNNING:
            self._schedule(task, self.run_seconds, STOPPED, at)

    def _mark_stopped(
        self, task: Task, at: int, exit_code: int | None = None, reason: str | None = None
    ) -> None:
        if task.last_status == STOPPED:
            return
        if task.desired_status == RUNNING:  # it exited by itself rather than being stopped
            self._set_desired(task, STOPPED)
            task.stop_code = "EssentialContainerExited"
            task.stopped_reason = reason or "Essential container in task exited"
            task.stopping_ms = at
            code = 0 if exit_code is None else exit_code
        else:  # a stop request (StopTask) completed: docker stop's SIGTERM
            code = 143 if exit_code is None else exit_code
        self._count(task, task.last_status, -1)
        if task.started_ms is not None:
            for c in task.containers:
                c.exit_code = code
        task.stopped_ms = at
        task.last_status = STOPPED
        task.changed()

    def request_stop(self, task: Task, reason: str | None, at: int) -> None:
        """StopTask: desiredStatus flips now, lastStatus follows after ``stop_seconds``."""
        if task.desired_status == STOPPED:
            return
        self._set_desired(task, STOPPED)
        task.stopping_ms = at
        task.stop_code = "UserInitiated"
        task.stopped_reason = reason or "Task stopped by user"
        task.changed()
        self._schedule(task, self.stop_seconds, STOPPED, at)

    def force_status(
        self, task: Task, status: str, exit_code: int | None = None, reason: str | None = None
    ) -> None:
        """Test control: move a task to ``status`` now; the test takes over its lifecycle.

        Transitions scheduled earlier are cancelled (they carry the old version); forcing RUNNING
        still schedules the ``run_seconds`` exit, if configured.
        """
        if status not in (RUNNING, STOPPED):
            raise ValueError(f"a task can be forced to RUNNING or STOPPED, not {status!r}")
        task.changed()
        at = self.now_ms()
        if status == RUNNING:
            self._mark_running(task, at)
        else:
            self._mark_stopped(task, at, exit_code, reason)

    # -- creating things ----------------------------------------------------------------------

    def add_cluster(
        self, name: str, tags: list[JSON] | None = None, settings: list[JSON] | None = None
    ) -> Cluster:
        existing = self.clusters.get(name)
        if existing is not None:
            return existing  # CreateCluster is idempotent for an ACTIVE cluster
        cluster = Cluster(
            seq=self._next_seq(),
            name=name,
            arn=f"{self.prefix}cluster/{name}",
            created_ms=self.now_ms(),
            tags=tags or [],
            settings=settings or [{"name": "containerInsights", "value": "disabled"}],
        )
        self.clusters[name] = cluster
        return cluster

    def add_task_definition(
        self,
        family: str,
        containers: list[JSON],
        *,
        network_mode: str = "bridge",
        cpu: str | None = None,
        memory: str | None = None,
        requires_compatibilities: list[str] | None = None,
        tags: list[JSON] | None = None,
        extra: JSON | None = None,
    ) -> TaskDefinition:
        revisions = self.task_definitions.setdefault(family, [])
        defs = []
        for c in containers:
            d: JSON = {
                "cpu": 0,
                "portMappings": [],
                "essential": True,
                "environment": [],
                "mountPoints": [],
                "volumesFrom": [],
                "systemControls": [],
                **c,
            }
            if network_mode == "awsvpc":
                d["portMappings"] = [
                    {**pm, "hostPort": pm.get("containerPort")} for pm in d["portMappings"]
                ]
            defs.append(d)
        td = TaskDefinition(
            family=family,
            revision=len(revisions) + 1,
            arn=f"{self.prefix}task-definition/{family}:{len(revisions) + 1}",
            containers=defs,
            network_mode=network_mode,
            cpu=cpu,
            memory=memory,
            requires_compatibilities=requires_compatibilities or [],
            tags=tags or [],
            registered_ms=self.now_ms(),
            extra=extra or {},
        )
        revisions.append(td)
        return td

    def add_container_instance(
        self,
        cluster: Cluster,
        *,
        ec2_instance_id: str | None = None,
        availability_zone: str | None = None,
        resources: list[JSON] | None = None,
        attributes: list[JSON] | None = None,
        version_info: JSON | None = None,
        tags: list[JSON] | None = None,
    ) -> ContainerInstance:
        n = len(cluster.instances)
        ci = ContainerInstance(
            arn=f"{self.prefix}container-instance/{cluster.name}/{self._hex()}",
            cluster=cluster,
            ec2_instance_id=ec2_instance_id or f"i-{self._hex(68)}",
            availability_zone=availability_zone or f"{self.region}{'abc'[n % 3]}",
            resources=resources or _default_resources(),
            attributes=attributes or [{"name": "ecs.os-type", "value": "linux"}],
            version_info=version_info or dict(_DEFAULT_AGENT),
            tags=tags or [],
            registered_ms=self.now_ms(),
        )
        cluster.instances[ci.arn] = ci
        return ci

    def add_task(
        self,
        cluster: Cluster,
        definition: TaskDefinition,
        *,
        launch_type: str,
        instance: ContainerInstance | None,
        at: int,
        group: str | None = None,
        started_by: str | None = None,
        service_name: str | None = None,
        tags: list[JSON] | None = None,
        overrides: JSON | None = None,
        subnets: list[str] | None = None,
        capacity_provider: str | None = None,
    ) -> Task:
        """Create a PENDING task (nothing scheduled yet; callers decide how it proceeds)."""
        task_id = self._hex()
        arn = f"{self.prefix}task/{cluster.name}/{task_id}"
        given = {o.get("name"): o for o in (overrides or {}).get("containerOverrides", [])}
        containers = []
        for d in definition.containers:
            o = given.get(d["name"], {})
            bindings = []
            if instance is not None and definition.network_mode != "awsvpc":
                for pm in d.get("portMappings", []):
                    port = pm.get("containerPort")
                    host = pm.get("hostPort") or (
                        port if definition.network_mode == "host" else instance.host_port()
                    )
                    bindings.append(
                        {
                            "bindIP": "0.0.0.0",
                            "containerPort": port,
                            "hostPort": host,
                            "protocol": pm.get("protocol", "tcp"),
                        }
                    )
            containers.append(
                Container(
                    arn=f"{self.prefix}container/{cluster.name}/{task_id}/{self._uuid()}",
                    name=d["name"],
                    image=d.get("image", _DEFAULT_IMAGE),
                    cpu=o.get("cpu", d.get("cpu", 0)),
                    memory=o.get("memory", d.get("memory")),
                    memory_reservation=o.get("memoryReservation", d.get("memoryReservation")),
                    bindings=bindings,
                    # a Docker container id on EC2, "<task id>-<number>" on Fargate
                    runtime_id=(
                        self._hex(256)
                        if launch_type != "FARGATE"
                        else f"{task_id}-{self._rng.randrange(10**9, 10**10)}"
                    ),
                    image_digest=self._image_digest(d.get("image", _DEFAULT_IMAGE)),
                )
            )
        az = instance.availability_zone if instance else f"{self.region}{'abc'[self._seq % 3]}"
        eni = None
        if definition.network_mode == "awsvpc" or launch_type == "FARGATE":
            n = self._rng.getrandbits(16)
            ip = f"10.0.{n >> 8}.{(n & 0xFF) or 1}"
            mac = ":".join(f"{b:02x}" for b in self._rng.getrandbits(48).to_bytes(6, "big"))
            domain = (
                "ec2.internal" if self.region == "us-east-1" else f"{self.region}.compute.internal"
            )
            eni = Eni(
                attachment_id=self._uuid(),
                eni_id=f"eni-{self._hex(68)}",
                subnet=(subnets or [f"subnet-{self._hex(68)}"])[0],
                mac=mac,
                ip=ip,
                dns=f"ip-{ip.replace('.', '-')}.{domain}",
            )
        task_overrides: JSON = {
            "containerOverrides": [{**given.get(c.name, {}), "name": c.name} for c in containers],
            "inferenceAcceleratorOverrides": [],
        }
        for key in ("cpu", "memory", "taskRoleArn", "executionRoleArn"):
            if overrides and key in overrides:
                task_overrides[key] = overrides[key]
        cpu = task_overrides.get("cpu") or definition.cpu or str(sum(c.cpu for c in containers))
        memory = (
            task_overrides.get("memory")
            or definition.memory
            or str(sum(c.memory or c.memory_reservation or 0 for c in containers))
        )
        task = Task(
            seq=self._next_seq(),
            task_id=task_id,
            arn=arn,
            cluster=cluster,
            definition=definition,
            instance=instance,
            launch_type=launch_type,
            capacity_provider=capacity_provider,
            availability_zone=az,
            group=group or f"family:{definition.family}",
            started_by=started_by,
            service_name=service_name,
            tags=tags or [],
            overrides=task_overrides,
            cpu=str(cpu),
            memory=str(memory),
            containers=containers,
            eni=eni,
            created_ms=at,
        )
        self.tasks[arn] = task
        self._by_seq[task.seq] = task
        self._index_add(task)
        self._count(task, PENDING, +1)
        return task

    def _launch(self, task: Task, at: int) -> None:
        """A freshly placed task proceeds PENDING -> RUNNING after ``pending_seconds``."""
        self._schedule(task, self.pending_seconds, RUNNING, at)

    # -- operations ---------------------------------------------------------------------------

    def create_cluster(self, p: JSON) -> JSON:
        name = _str(p, "clusterName") or "default"
        if not _NAME_RE.match(name):
            raise _invalid(
                "Cluster name can have up to 255 letters (uppercase and lowercase), numbers, "
                "hyphens, and underscores."
            )
        cluster = self.add_cluster(name, _tags(p), _obj_list(p, "settings") or None)
        return {"cluster": cluster.wire({"TAGS", "SETTINGS"})}

    def list_clusters(self, p: JSON) -> JSON:
        size = _page_size(p)
        after = decode_token("clusters", _str(p, "nextToken"))
        ordered = [c for c in self.clusters.values() if after is None or c.seq > after]
        page = ordered[:size]
        out: JSON = {"clusterArns": [c.arn for c in page]}
        if len(ordered) > size:
            out["nextToken"] = encode_token("clusters", page[-1].seq)
        return out

    def describe_clusters(self, p: JSON) -> JSON:
        include = set(_str_list(p, "include"))
        allowed = ("ATTACHMENTS", "CONFIGURATIONS", "SETTINGS", "STATISTICS", "TAGS")
        unknown = include - set(allowed)
        if unknown:
            raise _enum_error("include", unknown.pop(), allowed)
        refs = _str_list(p, "clusters") or ["default"]
        if len(refs) > _MAX_DESCRIBE:
            raise _invalid("Clusters cannot have more than 100 elements.")
        clusters, failures = [], []
        for ref in refs:
            try:
                clusters.append(self.cluster(ref).wire(include))
            except EcsError:
                arn = ref if ref.startswith("arn:") else f"{self.prefix}cluster/{ref}"
                failures.append({"arn": arn, "reason": "MISSING"})
        return {"clusters": clusters, "failures": failures}

    def register_task_definition(self, p: JSON) -> JSON:
        family = _str(p, "family")
        if not family:
            raise EcsError("ClientException", "Family cannot be blank.")
        if not _NAME_RE.match(family):
            raise EcsError("ClientException", "Family contains invalid characters.")
        containers = _obj_list(p, "containerDefinitions")
        if not containers:
            raise EcsError("ClientException", "Container list cannot be empty.")
        for c in containers:
            if not c.get("name"):
                raise EcsError("ClientException", "Container.name should not be null or empty.")
            if not c.get("image"):
                raise EcsError("ClientException", "Container.image should not be null or empty.")
        network_mode = _str(p, "networkMode") or "bridge"
        requires = _str_list(p, "requiresCompatibilities")
        cpu, memory = _str(p, "cpu"), _str(p, "memory")
        if "FARGATE" in requires:
            if network_mode != "awsvpc":
                raise EcsError("ClientException", "Fargate only supports network mode ‘awsvpc’.")
            for name, value in (("cpu", cpu), ("memory", memory)):
                if not value:
                    raise EcsError(
                        "ClientException",
                        f"Fargate requires that '{name}' be defined at the task level.",
                    )
        tags = _tags(p)
        extra: JSON = {
            k: p[k]
            for k in ("taskRoleArn", "executionRoleArn", "pidMode", "ipcMode", "runtimePlatform")
            if k in p
        }
        td = self.add_task_definition(
            family,
            containers,
            network_mode=network_mode,
            cpu=cpu,
            memory=memory,
            requires_compatibilities=requires,
            tags=tags,
            extra=extra,
        )
        return {"taskDefinition": td.wire(f"arn:aws:iam::{self.account_id}:root"), "tags": tags}

    def register_container_instance(self, p: JSON) -> JSON:
        cluster = self.cluster(_str(p, "cluster"))
        doc: JSON = {}
        raw_doc = _str(p, "instanceIdentityDocument")
        if raw_doc:
            try:
                parsed = json.loads(raw_doc)
            except ValueError:
                raise _invalid("instanceIdentityDocument is not valid JSON.") from None
            doc = parsed if isinstance(parsed, dict) else {}
        ci = self.add_container_instance(
            cluster,
            ec2_instance_id=doc.get("instanceId"),
            availability_zone=doc.get("availabilityZone"),
            resources=_obj_list(p, "totalResources") or None,
            attributes=_obj_list(p, "attributes") or None,
            version_info=_obj(p, "versionInfo") or None,
            tags=_tags(p),
        )
        return {"containerInstance": ci.wire()}

    def _launch_params(self, p: JSON, cluster: Cluster) -> tuple[TaskDefinition, JSON]:
        ref = _str(p, "taskDefinition")
        if not ref:
            raise _invalid("TaskDefinition cannot be blank.")
        td = self.task_definition(ref)
        overrides = _obj(p, "overrides")
        names = {d["name"] for d in td.containers}
        for o in _obj_list(overrides, "containerOverrides"):
            if o.get("name") not in names:
                raise _invalid(
                    f"Override for container named {o.get('name')} is not a container in the "
                    "TaskDefinition."
                )
        tags = _tags(p)
        if _str(p, "propagateTags") == "TASK_DEFINITION":
            tags = [*td.tags, *tags]
        if _bool(p, "enableECSManagedTags"):
            tags.append({"key": "aws:ecs:clusterName", "value": cluster.name})
        params = {
            "group": _str(p, "group"),
            "started_by": _str(p, "startedBy"),
            "tags": tags,
            "overrides": overrides,
        }
        return td, params

    def run_task(self, p: JSON) -> JSON:
        cluster = self.cluster(_str(p, "cluster"))
        token = _str(p, "clientToken")
        if token is not None and token in self._client_tokens:  # an idempotent retry
            earlier = [self.tasks[a] for a in self._client_tokens[token]]
            return {"tasks": [t.wire(False) for t in earlier], "failures": []}
        td, params = self._launch_params(p, cluster)
        count = _int(p, "count")
        count = 1 if count is None else count
        if not 1 <= count <= 10:
            raise _invalid("count must be between 1 and 10.")
        launch_type = _str(p, "launchType")
        strategy = _obj_list(p, "capacityProviderStrategy")
        provider = None
        if launch_type is not None and strategy:
            raise _invalid(
                "Specifying both a launch type and capacity provider strategy is not supported. "
                "Remove one and try again."
            )
        if launch_type is not None and launch_type not in _LAUNCH_TYPES:
            raise _enum_error("launchType", launch_type, _LAUNCH_TYPES)
        if strategy:
            provider = str(strategy[0].get("capacityProvider", ""))
            launch_type = "FARGATE" if provider.startswith("FARGATE") else "EC2"
        launch_type = launch_type or "EC2"
        subnets = _str_list(_obj(_obj(p, "networkConfiguration"), "awsvpcConfiguration"), "subnets")
        if launch_type == "FARGATE" and td.network_mode != "awsvpc":
            raise _invalid("Task definition does not support launch_type FARGATE.")
        if td.network_mode == "awsvpc" and not subnets:
            raise _invalid(
                "Network Configuration must be provided when networkMode 'awsvpc' is specified."
            )
        at = self.now_ms()
        tasks: list[Task] = []
        failures: list[JSON] = []
        instances = list(cluster.instances.values())
        for _ in range(count):
            instance = None
            if launch_type == "EC2":
                if not instances:
                    failures.append(
                        {"reason": "No Container Instances were found in your cluster."}
                    )
                    continue
                instance = instances[cluster.placement_cursor % len(instances)]
                cluster.placement_cursor += 1
            task = self.add_task(
                cluster,
                td,
                launch_type=launch_type,
                instance=instance,
                at=at,
                subnets=subnets,
                capacity_provider=provider,
                **params,
            )
            self._launch(task, at)
            tasks.append(task)
        if token is not None and tasks:
            self._client_tokens[token] = [t.arn for t in tasks]
        return {"tasks": [t.wire(False) for t in tasks], "failures": failures}

    def start_task_op(self, p: JSON) -> JSON:
        cluster = self.cluster(_str(p, "cluster"))
        refs = _str_list(p, "containerInstances")
        if not refs:
            raise _invalid("Container instances cannot be empty.")
        if len(refs) > 10:
            raise _invalid("Container instances cannot have more than 10 elements.")
        td, params = self._launch_params(p, cluster)
        subnets = _str_list(_obj(_obj(p, "networkConfiguration"), "awsvpcConfiguration"), "subnets")
        if td.network_mode == "awsvpc" and not subnets:
            raise _invalid(
                "Network Configuration must be provided when networkMode 'awsvpc' is specified."
            )
        at = self.now_ms()
        tasks: list[Task] = []
        failures: list[JSON] = []
        for ref in refs:
            arn = self._instance_arn(cluster, ref)
            instance = cluster.instances.get(arn)
            if instance is None:
                failures.append({"arn": arn, "reason": "MISSING"})
                continue
            task = self.add_task(
                cluster, td, launch_type="EC2", instance=instance, at=at, subnets=subnets, **params
            )
            self._launch(task, at)
            tasks.append(task)
        return {"tasks": [t.wire(False) for t in tasks], "failures": failures}

    def stop_task_op(self, p: JSON) -> JSON:
        cluster = self.cluster(_str(p, "cluster"))
        ref = _str(p, "task")
        if not ref:
            raise _invalid("Task cannot be blank.")
        task = self.tasks.get(self._task_arn(cluster, ref))
        if task is None or task.cluster is not cluster:
            raise _invalid("The referenced task was not found.")
        reason = _str(p, "reason")
        if reason is not None and len(reason) > 255:
            raise _invalid("Reason cannot be longer than 255 characters.")
        self.request_stop(task, reason, self.now_ms())
        return {"task": task.wire(False)}

    def list_tasks(self, p: JSON) -> JSON:
        cluster = self.cluster(_str(p, "cluster"))
        size = _page_size(p)
        after = decode_token("tasks", _str(p, "nextToken"))
        desired = _str(p, "desiredStatus") or RUNNING
        if desired not in _DESIRED_STATUSES:
            raise _enum_error("desiredStatus", desired, _DESIRED_STATUSES)
        filters: list[tuple[str, str]] = []
        for member in ("family", "startedBy", "serviceName", "containerInstance", "launchType"):
            value = _str(p, member)
            if value:
                filters.append((member, value))
        given = {m for m, _ in filters}
        if "startedBy" in given and len(given) > 1:
            raise _invalid("cannot specify startedBy with other arguments")
        for i, (member, value) in enumerate(filters):
            if member == "family" and not _NAME_RE.match(value):
                raise _invalid("family must match ^[a-zA-Z0-9\\-_]+$")
            if member == "launchType" and value not in _LAUNCH_TYPES:
                raise _enum_error("launchType", value, _LAUNCH_TYPES)
            if member == "serviceName" and value not in cluster.services:
                raise EcsError("ServiceNotFoundException", "Service not found.")
            if member == "containerInstance":
                filters[i] = (member, self._instance_arn(cluster, value))

        if _str(p, "daemonName"):
            return {"taskArns": []}  # daemons are not emulated, so none of their tasks exist

        # Walk the narrowest index; any other filters are checked per task on the way.
        index = cluster.index
        candidates = [index.get((desired, m, v), []) for m, v in filters] or [
            index.get((desired, "", ""), [])
        ]
        seqs = min(candidates, key=len)
        start = 0 if after is None else bisect_right(seqs, after)
        by_seq = self._by_seq
        if len(filters) <= 1:
            page = seqs[start : start + size]
            end = start + len(page)
            arns = [by_seq[s].arn_json for s in page]
        else:
            arns, end = [], start
            while end < len(seqs) and len(arns) < size:
                task = by_seq[seqs[end]]
                end += 1
                if all(task.matches(m, v) for m, v in filters):
                    arns.append(task.arn_json)
        out: JSON = {"taskArns": arns}  # pre-encoded ARNs: see encode()
        if end < len(seqs):
            out["nextToken"] = encode_token("tasks", seqs[end - 1])
        return out

    def describe_tasks(self, p: JSON) -> JSON:
        cluster = self.cluster(_str(p, "cluster"))
        refs = _str_list(p, "tasks")
        if not refs:
            raise _invalid("Tasks cannot be empty.")
        if len(refs) > _MAX_DESCRIBE:
            raise _invalid("Tasks cannot have more than 100 elements.")
        include = _str_list(p, "include")
        for value in include:
            if value != "TAGS":
                raise _enum_error("include", value, ("TAGS",))
        with_tags = bool(include)
        found: list[RawJSON] = []
        failures = []
        tasks = self.tasks
        for ref in dict.fromkeys(refs):  # a task asked for twice is described once
            arn = self._task_arn(cluster, ref)
            task = tasks.get(arn)
            if task is not None and task.cluster is cluster:
                found.append(task.wire_json(with_tags))
            else:
                failures.append({"arn": arn, "reason": "MISSING"})
        return {"tasks": found, "failures": failures}

    # -- seeding (test and benchmark setup, no HTTP) ------------------------------------------

    def seed_tasks(
        self,
        count: int,
        *,
        cluster: str,
        family: str,
        launch_type: str,
        desired_status: str,
        last_status: str | None,
        started_by: str | None,
        service_name: str | None,
        group: str | None,
        tags: Mapping[str, str] | None,
        image: str,
    ) -> list[str]:
        if desired_status not in (RUNNING, STOPPED):
            raise ValueError("desired_status must be 'RUNNING' or 'STOPPED'")
        last = last_status or desired_status
        if last not in (PENDING, RUNNING, STOPPED) or (desired_status == STOPPED) != (
            last == STOPPED
        ):
            raise ValueError(f"last_status {last!r} does not fit desired_status {desired_status!r}")
        if launch_type not in ("EC2", "FARGATE"):
            raise ValueError("launch_type must be 'EC2' or 'FARGATE'")
        c = self.add_cluster(cluster)
        awsvpc = launch_type == "FARGATE"
        revisions = self.task_definitions.get(family)
        td = revisions[-1] if revisions else None
        if td is None or (awsvpc and td.network_mode != "awsvpc"):
            td = self.add_task_definition(
                family,
                [
                    {
                        "name": family,
                        "image": image,
                        "cpu": 256,
                        "memory": 512,
                        "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
                    }
                ],
                network_mode="awsvpc" if awsvpc else "bridge",
                cpu="256",
                memory="512",
                requires_compatibilities=["FARGATE"] if awsvpc else ["EC2"],
            )
        instances: list[ContainerInstance] = []
        if launch_type == "EC2":
            if not c.instances:
                for _ in range(max(1, -(-count // 100))):
                    self.add_container_instance(c)
            instances = list(c.instances.values())
        if service_name is not None:
            c.services.add(service_name)
            group = group or f"service:{service_name}"
            started_by = started_by or f"ecs-svc/{self._rng.randrange(10**18, 10**19)}"
        tag_list = [{"key": k, "value": v} for k, v in (tags or {}).items()]
        now = self.now_ms()
        pending_ms = round(self.pending_seconds * 1000)
        arns = []
        for i in range(count):
            created = now if last == PENDING else now - max(pending_ms, 2000) - 1000
            task = self.add_task(
                c,
                td,
                launch_type=launch_type,
                instance=instances[i % len(instances)] if instances else None,
                at=created,
                group=group,
                started_by=started_by,
                service_name=service_name,
                tags=list(tag_list),
            )
            if last == PENDING:
                self._launch(task, now)
            else:
                self._mark_running(task, created + max(pending_ms, 2000))
                if last == STOPPED:  # a finished job: its essential container exited with 0
                    self._mark_stopped(task, now)
            arns.append(task.arn)
        return arns


def _default_resources() -> list[JSON]:
    return [
        {
            "name": "CPU",
            "type": "INTEGER",
            "doubleValue": 0.0,
            "longValue": 0,
            "integerValue": 2048,
        },
        {
            "name": "MEMORY",
            "type": "INTEGER",
            "doubleValue": 0.0,
            "longValue": 0,
            "integerValue": 7680,
        },
        {
            "name": "PORTS",
            "type": "STRINGSET",
            "doubleValue": 0.0,
            "longValue": 0,
            "integerValue": 0,
            "stringSetValue": ["22", "2375", "2376", "51678", "51679"],
        },
        {
            "name": "PORTS_UDP",
            "type": "STRINGSET",
            "doubleValue": 0.0,
            "longValue": 0,
            "integerValue": 0,
            "stringSetValue": [],
        },
    ]
