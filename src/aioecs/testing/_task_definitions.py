"""RegisterTaskDefinition."""

from __future__ import annotations

from ._encoding import JSON
from ._errors import ErrorAnswer
from ._members import NAME_RE, string, string_list, structure_list, tag_list
from ._model import EcsModel


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
    return {"taskDefinition": td.wire(f"arn:aws:iam::{state.account_id}:root"), "tags": tags}
