"""The task operations: RunTask, StartTask, StopTask, ListTasks, DescribeTasks.

ListTasks walks the narrowest of the cluster's per-filter indexes (sorted task sequence numbers),
bisecting to the page start that the opaque nextToken carries: O(log n + page), never a scan of
the cluster. DescribeTasks is one dict lookup per ARN plus the task's cached JSON.
"""

from __future__ import annotations

from bisect import bisect_right

from ._encoding import JSON, RawJSON
from ._errors import ErrorAnswer, enum_error, invalid
from ._members import (
    MAX_DESCRIBE,
    NAME_RE,
    boolean,
    decode_token,
    encode_token,
    integer,
    page_size,
    string,
    string_list,
    structure,
    structure_list,
    tag_list,
)
from ._model import EcsModel
from ._records import PENDING, RUNNING, STOPPED, Cluster, Task, TaskDefinition

_DESIRED_STATUSES = (RUNNING, PENDING, STOPPED)
_LAUNCH_TYPES = ("EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES")


def _launch_params(state: EcsModel, p: JSON, cluster: Cluster) -> tuple[TaskDefinition, JSON]:
    ref = string(p, "taskDefinition")
    if not ref:
        raise invalid("TaskDefinition cannot be blank.")
    td = state.task_definition(ref)
    overrides = structure(p, "overrides")
    names = {d["name"] for d in td.containers}
    for o in structure_list(overrides, "containerOverrides"):
        if o.get("name") not in names:
            raise invalid(
                f"Override for container named {o.get('name')} is not a container in the "
                "TaskDefinition."
            )
    tags = tag_list(p)
    if string(p, "propagateTags") == "TASK_DEFINITION":
        tags = [*td.tags, *tags]
    if boolean(p, "enableECSManagedTags"):
        tags.append({"key": "aws:ecs:clusterName", "value": cluster.name})
    params = {
        "group": string(p, "group"),
        "started_by": string(p, "startedBy"),
        "tags": tags,
        "overrides": overrides,
    }
    return td, params


def _subnets(p: JSON, td: TaskDefinition) -> list[str]:
    """The awsvpc subnets asked for; an awsvpc task definition cannot do without."""
    vpc = structure(structure(p, "networkConfiguration"), "awsvpcConfiguration")
    subnets = string_list(vpc, "subnets")
    if td.network_mode == "awsvpc" and not subnets:
        raise invalid(
            "Network Configuration must be provided when networkMode 'awsvpc' is specified."
        )
    return subnets


def _launch(state: EcsModel, task: Task, at: int) -> None:
    """Start a task placed by RunTask or StartTask; DescribeTasks sees it ``missing_seconds``
    later, as an eventually consistent account does."""
    task.visible_ms = at + round(state.missing_seconds * 1000)
    state.launch(task, at)


def run_task(state: EcsModel, p: JSON) -> JSON:
    cluster = state.cluster(string(p, "cluster"))
    token = string(p, "clientToken")
    if token is not None and token in state.client_tokens:  # an idempotent retry
        earlier = [state.tasks[a] for a in state.client_tokens[token]]
        return {"tasks": [t.wire(False) for t in earlier], "failures": []}
    td, params = _launch_params(state, p, cluster)
    count = integer(p, "count")
    count = 1 if count is None else count
    if not 1 <= count <= 10:
        raise invalid("count must be between 1 and 10.")
    launch_type = string(p, "launchType")
    strategy = structure_list(p, "capacityProviderStrategy")
    provider = None
    if launch_type is not None and strategy:
        raise invalid(
            "Specifying both a launch type and capacity provider strategy is not supported. "
            "Remove one and try again."
        )
    if launch_type is not None and launch_type not in _LAUNCH_TYPES:
        raise enum_error("launchType", launch_type, _LAUNCH_TYPES)
    if strategy:
        provider = str(strategy[0].get("capacityProvider", ""))
        launch_type = "FARGATE" if provider.startswith("FARGATE") else "EC2"
    launch_type = launch_type or "EC2"
    subnets = _subnets(p, td)
    if launch_type == "FARGATE" and td.network_mode != "awsvpc":
        raise invalid("Task definition does not support launch_type FARGATE.")
    at = state.now_ms()
    tasks: list[Task] = []
    failures: list[JSON] = []
    instances = list(cluster.instances.values())
    for _ in range(count):
        instance = None
        if launch_type == "EC2":
            if not instances:
                failures.append({"reason": "No Container Instances were found in your cluster."})
                continue
            instance = instances[cluster.placement_cursor % len(instances)]
            cluster.placement_cursor += 1
        task = state.add_task(
            cluster,
            td,
            launch_type=launch_type,
            instance=instance,
            at=at,
            subnets=subnets,
            capacity_provider=provider,
            **params,
        )
        _launch(state, task, at)
        tasks.append(task)
    if token is not None and tasks:
        state.client_tokens[token] = [t.arn for t in tasks]
    return {"tasks": [t.wire(False) for t in tasks], "failures": failures}


def start_task(state: EcsModel, p: JSON) -> JSON:
    cluster = state.cluster(string(p, "cluster"))
    refs = string_list(p, "containerInstances")
    if not refs:
        raise invalid("Container instances cannot be empty.")
    if len(refs) > 10:
        raise invalid("Container instances cannot have more than 10 elements.")
    td, params = _launch_params(state, p, cluster)
    subnets = _subnets(p, td)
    at = state.now_ms()
    tasks: list[Task] = []
    failures: list[JSON] = []
    for ref in refs:
        arn = state.instance_arn(cluster, ref)
        instance = cluster.instances.get(arn)
        if instance is None:
            failures.append({"arn": arn, "reason": "MISSING"})
            continue
        task = state.add_task(
            cluster, td, launch_type="EC2", instance=instance, at=at, subnets=subnets, **params
        )
        _launch(state, task, at)
        tasks.append(task)
    return {"tasks": [t.wire(False) for t in tasks], "failures": failures}


def stop_task(state: EcsModel, p: JSON) -> JSON:
    cluster = state.cluster(string(p, "cluster"))
    ref = string(p, "task")
    if not ref:
        raise invalid("Task cannot be blank.")
    task = state.tasks.get(state.task_arn(cluster, ref))
    if task is None or task.cluster is not cluster:
        raise invalid("The referenced task was not found.")
    reason = string(p, "reason")
    if reason is not None and len(reason) > 255:
        raise invalid("Reason cannot be longer than 255 characters.")
    state.request_stop(task, reason, state.now_ms())
    return {"task": task.wire(False)}


def list_tasks(state: EcsModel, p: JSON) -> JSON:
    cluster = state.cluster(string(p, "cluster"))
    size = page_size(p)
    after = decode_token("tasks", string(p, "nextToken"))
    desired = string(p, "desiredStatus") or RUNNING
    if desired not in _DESIRED_STATUSES:
        raise enum_error("desiredStatus", desired, _DESIRED_STATUSES)
    filters: list[tuple[str, str]] = []
    for member in ("family", "startedBy", "serviceName", "containerInstance", "launchType"):
        value = string(p, member)
        if value:
            filters.append((member, value))
    given = {m for m, _ in filters}
    if "startedBy" in given and len(given) > 1:
        raise invalid("cannot specify startedBy with other arguments")
    for i, (member, value) in enumerate(filters):
        if member == "family" and not NAME_RE.match(value):
            raise invalid("family must match ^[a-zA-Z0-9\\-_]+$")
        if member == "launchType" and value not in _LAUNCH_TYPES:
            raise enum_error("launchType", value, _LAUNCH_TYPES)
        if member == "serviceName" and value not in cluster.services:
            raise ErrorAnswer("ServiceNotFoundException", "Service not found.")
        if member == "containerInstance":
            filters[i] = (member, state.instance_arn(cluster, value))

    if string(p, "daemonName"):
        return {"taskArns": []}  # daemons are not emulated, so none of their tasks exist

    # Walk the narrowest index; any other filters are checked per task on the way.
    index = cluster.index
    candidates = [index.get((desired, m, v), []) for m, v in filters] or [
        index.get((desired, "", ""), [])
    ]
    seqs = min(candidates, key=len)
    start = 0 if after is None else bisect_right(seqs, after)
    by_seq = state.by_seq
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


def describe_tasks(state: EcsModel, p: JSON) -> JSON:
    cluster = state.cluster(string(p, "cluster"))
    refs = string_list(p, "tasks")
    if not refs:
        raise invalid("Tasks cannot be empty.")
    if len(refs) > MAX_DESCRIBE:
        raise invalid("Tasks cannot have more than 100 elements.")
    include = string_list(p, "include")
    for value in include:
        if value != "TAGS":
            raise enum_error("include", value, ("TAGS",))
    with_tags = bool(include)
    found: list[RawJSON] = []
    failures = []
    tasks = state.tasks
    now = state.now_ms()
    for ref in dict.fromkeys(refs):  # a task asked for twice is described once
        arn = state.task_arn(cluster, ref)
        task = tasks.get(arn)
        if task is not None and task.cluster is cluster and task.visible_ms <= now:
            found.append(task.wire_json(with_tags))
        else:
            failures.append({"arn": arn, "reason": "MISSING"})
    return {"tasks": found, "failures": failures}
