"""ECS's request quotas: which token bucket each operation draws from, and how big it is.

Source: "Request throttling for the Amazon ECS API" (Amazon ECS API Reference). ECS keeps one
token bucket per account and Region for each category below, shared by the category's actions;
a call finding its bucket empty is answered HTTP 400 `ThrottlingException`. Limits can be
raised through AWS Support, and every other caller in the account spends the same buckets, so
these numbers are a starting point for pacing, never a promise.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["CATEGORIES", "Quota", "category_of"]


class Quota(NamedTuple):
    """A token bucket: `burst` tokens when full, refilled at `rate` tokens per second."""

    burst: float
    rate: float


# category -> (documented quota, the actions that share it)
CATEGORIES: dict[str, tuple[Quota, frozenset[str]]] = {
    "cluster_resource_read": (
        Quota(100, 20),
        frozenset(
            {
                "DescribeTasks",
                "ListTasks",
                "DescribeContainerInstances",
                "ListContainerInstances",
                "ListAttributes",
            }
        ),
    ),
    "cluster_resource_modify": (
        Quota(100, 40),
        frozenset(
            {
                "RunTask",
                "StartTask",
                "StopTask",
                "ExecuteCommand",
                "PutAttributes",
                "DeleteAttributes",
                "DeregisterContainerInstance",
                "UpdateContainerAgent",
                "UpdateContainerInstancesState",
            }
        ),
    ),
    "cluster_read": (Quota(50, 20), frozenset({"DescribeClusters", "ListClusters"})),
    "service_read": (Quota(100, 20), frozenset({"DescribeServices", "ListServices"})),
    "task_definition_read": (
        Quota(50, 20),
        frozenset({"DescribeTaskDefinition", "ListTaskDefinitions", "ListTaskDefinitionFamilies"}),
    ),
    "tag_read": (Quota(50, 20), frozenset({"ListTagsForResource"})),
    "task_definition_modify": (
        Quota(20, 1),
        frozenset({"RegisterTaskDefinition", "DeregisterTaskDefinition"}),
    ),
    "service_modify": (
        Quota(50, 5),
        frozenset({"CreateService", "UpdateService", "DeleteService"}),
    ),
}

_CATEGORY_OF = {action: name for name, (_, actions) in CATEGORIES.items() for action in actions}


def category_of(operation: str) -> str | None:
    """The throttling category an operation draws from; None for operations ECS does not list."""
    return _CATEGORY_OF.get(operation)
