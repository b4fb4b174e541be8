"""The in-memory model of one ECS account in one region: what exists, and how tasks change.

Transport-free and synchronous. The operations (``_clusters``, ``_tasks``, ...) read requests
and call into it; this module knows nothing of requests.

Cost model (the emulator serves fan-out benchmarks with 10k+ tasks):

* every task has a creation sequence number; per cluster, for each desiredStatus and each ListTasks
  filter value (family, startedBy, serviceName, containerInstance, launchType) there is a sorted
  list of sequence numbers (``Cluster.index``), so ListTasks bisects to its page: see ``_tasks``;
* the PENDING -> RUNNING -> STOPPED lifecycle is driven by a heap of due transitions that each
  request drains up to "now" (:meth:`EcsModel.advance`): O(transitions due), no background tasks.
"""

from __future__ import annotations

import heapq
import random
from bisect import bisect_right, insort
from collections.abc import Callable, Mapping

from . import _outcomes
from ._encoding import JSON
from ._errors import ErrorAnswer, cluster_not_found
from ._records import (
    PENDING,
    RUNNING,
    STOPPED,
    Cluster,
    Container,
    ContainerInstance,
    Eni,
    Task,
    TaskDefinition,
)
from ._rollouts import ServiceBook

_DEFAULT_IMAGE = "public.ecr.aws/docker/library/nginx:latest"
_DEFAULT_AGENT = {"agentVersion": "1.89.2", "agentHash": "2a9b4e3c", "dockerVersion": "25.0.8"}


class EcsModel:
    """All clusters and tasks of one emulated account in one region, and how tasks change.

    ``clock`` returns epoch seconds (``time.time`` by default; tests pass a fake one), ``seed``
    makes generated ids reproducible. ``pending_seconds`` is how long a started task stays
    PENDING, ``stop_seconds`` how long a stop request takes to reach lastStatus STOPPED, and
    ``run_seconds`` (if set) how long tasks run before their essential container exits by itself
    (a task's own ``AIOECS_RUN_SECONDS`` wins: see ``_outcomes``), ``missing_seconds`` how long
    DescribeTasks answers MISSING for a task RunTask or StartTask has just started.
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
        missing_seconds: float = 0.0,
    ) -> None:
        self.region = region
        self.service_book = ServiceBook()  # services and their deployments (`_services`)
        self.account_id = account_id
        self.prefix = f"arn:aws:ecs:{region}:{account_id}:"
        self.clock = clock
        self.pending_seconds = pending_seconds
        self.stop_seconds = stop_seconds
        self.run_seconds = run_seconds
        self.missing_seconds = missing_seconds
        self.rng = random.Random(seed)
        self._seq = 0
        self.clusters: dict[str, Cluster] = {}
        self.inactive_clusters: dict[str, Cluster] = {}  # deleted, by name (DeleteCluster)
        self.task_definitions: dict[str, list[TaskDefinition]] = {}  # family -> revisions
        self.tasks: dict[str, Task] = {}  # ARN -> task
        self.by_seq: dict[int, Task] = {}
        self.client_tokens: dict[str, list[str]] = {}
        self.protection: dict[str, int] = {}  # task ARN -> scale-in protection expiry, ms
        self._digests: dict[str, str] = {}  # image -> digest: one digest per image, as in ECR
        # (due ms, tiebreak, task seq, task version when scheduled, target lastStatus)
        self._due: list[tuple[int, int, int, int, str]] = []

    # -- plumbing ---------------------------------------------------------------------------

    def now_ms(self) -> int:
        return round(self.clock() * 1000)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _hex(self, bits: int = 128) -> str:
        return f"{self.rng.getrandbits(bits):0{bits // 4}x}"

    def _uuid(self) -> str:
        h = self._hex()  # formatted by hand: uuid.UUID() is a noticeable part of seeding
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    def _image_digest(self, image: str) -> str:
        digest = self._digests.get(image)
        if digest is None:
            digest = self._digests[image] = f"sha256:{self._hex(256)}"
        return digest

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
            raise cluster_not_found()
        return found

    def task_arn(self, cluster: Cluster, ref: str) -> str:
        return ref if ref.startswith("arn:") else f"{self.prefix}task/{cluster.name}/{ref}"

    def instance_arn(self, cluster: Cluster, ref: str) -> str:
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
        raise ErrorAnswer("ClientException", "TaskDefinition not found.")

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
            task = self.by_seq.get(seq)
            if task is None or task.version != version:
                continue  # changed since (stopped, or forced by a test): stale
            if status == RUNNING:
                self.mark_running(task, at)
            else:
                self.mark_stopped(task, at)

    def mark_running(self, task: Task, at: int) -> None:
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
        run = task.run_seconds if task.run_seconds is not None else self.run_seconds
        if run is None and any(c.fail == _outcomes.OUT_OF_MEMORY for c in task.containers):
            run = 0.0
        if run is not None and task.desired_status == RUNNING:
            self._schedule(task, run, STOPPED, at)

    def mark_stopped(
        self,
        task: Task,
        at: int,
        exit_code: int | Mapping[str, int] | None = None,
        reason: str | None = None,
    ) -> None:
        """``exit_code``: one for every container, or by container name (the others exit as
        ``_outcomes`` says)."""
        if task.last_status == STOPPED:
            return
        if task.desired_status == RUNNING:  # it exited by itself rather than being stopped
            self._set_desired(task, STOPPED)
            task.stopping_ms = at
            _outcomes.end_by_itself(task, exit_code, reason)
        else:  # a stop request (StopTask) completed: docker stop's SIGTERM
            _outcomes.end_by_stop(task, exit_code)
        self._count(task, task.last_status, -1)
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
        self,
        task: Task,
        status: str,
        exit_code: int | Mapping[str, int] | None = None,
        reason: str | None = None,
    ) -> None:
        """Test control: move a task to ``status`` now; the test takes over its lifecycle.

        Transitions scheduled earlier are cancelled (they carry the old version); forcing RUNNING
        still schedules the ``run_seconds`` exit, if configured.
        """
        if status not in (RUNNING, STOPPED):
            raise ValueError(f"a task can be forced to RUNNING or STOPPED, not {status!r}")
        if isinstance(exit_code, Mapping):
            unknown = sorted(set(exit_code) - {c.name for c in task.containers})
            if unknown:
                raise ValueError(f"exit_code names containers the task does not have: {unknown}")
        task.changed()
        at = self.now_ms()
        if status == RUNNING:
            self.mark_running(task, at)
        else:
            self.mark_stopped(task, at, exit_code, reason)

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
        run_seconds: float | None = None
        for d in definition.containers:
            o = given.get(d["name"], {})
            essential, planned_exit, fail, run = _outcomes.plan(d, o)
            if run is not None:
                run_seconds = run if run_seconds is None else min(run, run_seconds)
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
                        else f"{task_id}-{self.rng.randrange(10**9, 10**10)}"
                    ),
                    image_digest=self._image_digest(d.get("image", _DEFAULT_IMAGE)),
                    essential=essential,
                    planned_exit=planned_exit,
                    fail=fail,
                )
            )
        az = instance.availability_zone if instance else f"{self.region}{'abc'[self._seq % 3]}"
        eni = None
        if definition.network_mode == "awsvpc" or launch_type == "FARGATE":
            n = self.rng.getrandbits(16)
            ip = f"10.0.{n >> 8}.{(n & 0xFF) or 1}"
            mac = ":".join(f"{b:02x}" for b in self.rng.getrandbits(48).to_bytes(6, "big"))
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
            run_seconds=run_seconds,
        )
        self.tasks[arn] = task
        self.by_seq[task.seq] = task
        self._index_add(task)
        self._count(task, PENDING, +1)
        return task

    def launch(self, task: Task, at: int) -> None:
        """A freshly placed task proceeds PENDING -> RUNNING after ``pending_seconds`` (or
        PENDING -> STOPPED, if it cannot start: see ``_outcomes``)."""
        status = STOPPED if _outcomes.never_starts(task) else RUNNING
        self._schedule(task, self.pending_seconds, status, at)


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
