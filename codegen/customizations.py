"""What aioecs knows about ECS's operations that botocore's model does not say, kept by hand.

The one place for such facts: codegen puts each into the operation's generated descriptor
(`aioecs._spec.OperationSpec`), so the runtime's policy modules name no operation. Each fact
cites where it comes from; `model.load` refuses a name the model does not have.
"""

from __future__ import annotations

from typing import NamedTuple


class Limit(NamedTuple):
    """A documented limit on a request member: a string's or list's length, a number's value."""

    min: float | None
    max: float | None


# Source: "Request throttling for the Amazon ECS API" (Amazon ECS API Reference): ECS keeps one
# token bucket per account and Region for each category, shared by the actions listed under
# it. The buckets' sizes are the runtime's (`aioecs._limits.CATEGORIES`).
THROTTLING: dict[str, tuple[str, ...]] = {
    "cluster_resource_read": (
        "DescribeContainerInstances",
        "DescribeTasks",
        "ListAttributes",
        "ListContainerInstances",
        "ListTasks",
    ),
    "cluster_resource_modify": (
        "DeleteAttributes",
        "DeregisterContainerInstance",
        "ExecuteCommand",
        "PutAttributes",
        "RunTask",
        "StartTask",
        "StopTask",
        "UpdateContainerAgent",
        "UpdateContainerInstancesState",
    ),
    "cluster_read": ("DescribeClusters", "ListClusters"),
    "service_read": ("DescribeServices", "ListServices"),
    "task_definition_read": (
        "DescribeTaskDefinition",
        "ListTaskDefinitionFamilies",
        "ListTaskDefinitions",
    ),
    "tag_read": ("ListTagsForResource",),
    "task_definition_modify": ("DeregisterTaskDefinition", "RegisterTaskDefinition"),
    "service_modify": ("CreateService", "DeleteService", "UpdateService"),
}

# The operations that must not be repeated after a failure that may have come after the call
# was processed (a 5xx answer, a timeout, a connection lost once the request was sent): each
# processed call makes something new, so a retry would make a second one (each operation's
# API reference page). Every other write sets a state, and setting it twice is harmless (or
# the second call fails with a conflict or "not found" error, e.g. CreateService,
# CreateCluster by name, DeleteService, which is what botocore's standard mode, retrying them
# all, also leads to). RunTask would belong here but carries an idempotency token
# (clientToken, from the model) that aioecs fills in.
NOT_SAFE_TO_REPEAT: dict[str, str] = {
    "StartTask": "starts another set of tasks",
    "RegisterTaskDefinition": "registers another revision of the family",
    "RegisterDaemonTaskDefinition": "registers another revision of the daemon family",
    "RegisterContainerInstance": (
        "without containerInstanceArn, registers another container instance for the same EC2 "
        "instance (as an ECS agent that lost its state file does)"
    ),
    "CreateTaskSet": "creates another task set; its clientToken is the caller's, not filled in",
    "CreateExpressGatewayService": (
        "serviceName is optional: without it each call creates a service with a new name"
    ),
}

# Limits AWS documents on a request's members and the model lacks, by operation and member
# (snake_case). Where the documentation can be read two ways, the looser reading wins: the
# server checks again anyway, and a client must never refuse a request AWS would take. A
# string names a rule of `aioecs._validate` (`_RULES`) that is not a length or range.
LIMITS: dict[str, dict[str, tuple[Limit | str, ...]]] = {
    "DescribeTasks": {
        # API_DescribeTasks, tasks: "A list of up to 100 task IDs or full ARN entries." An
        # empty list is answered with InvalidParameterException "Tasks cannot be empty.".
        "tasks": (Limit(1, 100),),
    },
    "ListTasks": {
        # API_ListTasks, maxResults: "This value can be between 1 and 100."
        "max_results": (Limit(1, 100),),
    },
    "RunTask": {
        # API_RunTask, count: "You can specify up to 10 tasks for each call."
        "count": (Limit(1, 10),),
        # API_RunTask, startedBy: "Up to 128 letters (uppercase and lowercase), numbers,
        # hyphens (-), forward slash (/), and underscores (_) are allowed." Only the length is
        # checked: AWS does not enforce the character set (Step Functions' ecs:runTask starts
        # tasks with startedBy "AWS Step Functions"; "abc:def" is accepted and listed).
        "started_by": (Limit(0, 128),),
        # API_RunTask, overrides: "A total of 8192 characters are allowed for overrides. This
        # limit includes the JSON formatting characters of the override structure."
        "overrides": ("overrides_fit",),
    },
    "StartTask": {
        # API_StartTask, containerInstances: "You can specify up to 10 container instances."
        "container_instances": (Limit(1, 10),),
        # API_StartTask, startedBy: "Up to 36 letters ..." (the same characters as RunTask's;
        # the length only, likewise). ListTasks documents no limit on its startedBy filter.
        "started_by": (Limit(0, 36),),
        # API_StartTask, overrides: the same 8192 characters as RunTask's.
        "overrides": ("overrides_fit",),
    },
}
