"""RegisterTaskDefinition, DescribeTaskDefinition, ListTaskDefinitions,
ListTaskDefinitionFamilies.

Every registered revision stays ACTIVE (DeregisterTaskDefinition is not emulated), so the
INACTIVE listings are empty.
"""

from __future__ import annotations

from ._encoding import JSON
from ._errors import ErrorAnswer, enum_error, invalid
from ._members import (
    NAME_RE,
    decode_token,
    encode_token,
    page_size,
    string,
    string_list,
    structure_list,
    tag_list,
)
from ._model import EcsModel
from ._records import TaskDefinition

_STATUSES = ("ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS")


def register_task_definition(state: EcsModel, p: JSON) -> JSON:
    family = string(p, "family")
    if not family:
        raise ErrorAnswer("ClientException", "Family cannot be blank.")
    if not NAME_RE.match(family):
        raise ErrorAnswer("ClientException", "Family contains invalid characters.")
    containers = structure_list(p, "containerDefinitions")
    if not containers:
        raise ErrorAnswer("ClientException", "Container list cannot be empty.")
    for c in containers:
        if not c.get("name"):
            raise ErrorAnswer("ClientException", "Container.name should not be null or empty.")
        if not c.get("image"):
            raise ErrorAnswer("ClientException", "Container.image should not be null or empty.")
    network_mode = string(p, "networkMode") or "bridge"
    requires = string_list(p, "requiresCompatibilities")
    cpu, memory = string(p, "cpu"), string(p, "memory")
    if "FARGATE" in requires:
        if network_mode != "awsvpc":
            raise ErrorAnswer("ClientException", "Fargate only supports network mode ‘awsvpc’.")
        for name, value in (("cpu", cpu), ("memory", memory)):
            if not value:
                raise ErrorAnswer(
                    "ClientException",
                    f"Fargate requires that '{name}' be defined at the task level.",
                )
    tags = tag_list(p)
    extra: JSON = {
        k: p[k]
        for k in ("taskRoleArn", "executionRoleArn", "pidMode", "ipcMode", "runtimePlatform")
        if k in p
    }
    td = state.add_task_definition(
        family,
        containers,
        network_mode=network_mode,
        cpu=cpu,
        memory=memory,
        requires_compatibilities=requires,
        tags=tags,
        extra=extra,
    )
    return {"taskDefinition": td.wire(_registered_by(state)), "tags": tags}


def _registered_by(state: EcsModel) -> str:
    return f"arn:aws:iam::{state.account_id}:root"


def describe_task_definition(state: EcsModel, p: JSON) -> JSON:
    ref = string(p, "taskDefinition")
    if not ref:
        raise invalid("TaskDefinition cannot be blank.")
    include = string_list(p, "include")
    for value in include:
        if value != "TAGS":
            raise enum_error("include", value, ("TAGS",))
    td = state.task_definition(ref)
    out: JSON = {"taskDefinition": td.wire(_registered_by(state))}
    if include:
        out["tags"] = td.tags
    return out


def _page(p: JSON, kind: str, items: list[str]) -> tuple[list[str], str | None]:
    """One page of ``items`` and the token of the next (an offset in the listing)."""
    size = page_size(p)
    start = decode_token(kind, string(p, "nextToken")) or 0
    page = items[start : start + size]
    more = start + size < len(items)
    return page, encode_token(kind, start + size) if more else None


def list_task_definitions(state: EcsModel, p: JSON) -> JSON:
    status = string(p, "status") or "ACTIVE"
    if status not in _STATUSES:
        raise enum_error("status", status, _STATUSES)
    order = string(p, "sort") or "ASC"
    if order not in ("ASC", "DESC"):
        raise enum_error("sort", order, ("ASC", "DESC"))
    family = string(p, "familyPrefix")  # despite its name, the whole family: as in ECS
    found: list[TaskDefinition] = []
    if status == "ACTIVE":
        for name in sorted(state.task_definitions):
            if family is None or name == family:
                found.extend(state.task_definitions[name])
    arns = [td.arn for td in found]
    if order == "DESC":
        arns.reverse()
    page, token = _page(p, "task-definitions", arns)
    out: JSON = {"taskDefinitionArns": page}
    if token is not None:
        out["nextToken"] = token
    return out


def list_task_definition_families(state: EcsModel, p: JSON) -> JSON:
    status = string(p, "status") or "ACTIVE"
    if status not in ("ACTIVE", "INACTIVE", "ALL"):
        raise enum_error("status", status, ("ACTIVE", "INACTIVE", "ALL"))
    prefix = string(p, "familyPrefix") or ""
    families = [] if status == "INACTIVE" else sorted(state.task_definitions)
    page, token = _page(p, "families", [f for f in families if f.startswith(prefix)])
    out: JSON = {"families": page}
    if token is not None:
        out["nextToken"] = token
    return out
