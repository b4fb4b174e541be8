"""`task_family`: a task's task definition family and revision, from the ARN ECS gives.

ECS describes a task with its task definition's ARN only
(`arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>`); the family and revision
are what people name a task definition by (`web:3`, as `aioecs tasks` shows it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import models

__all__ = ["task_family"]

_MARK = ":task-definition/"


def task_family(task: models.Task) -> tuple[str, int]:
    """`(family, revision)` of the task's task definition, e.g. `("web", 3)`.

    Raises ValueError if the task has no task definition ARN of that form (a task described
    by ECS always has one).
    """
    arn = task.task_definition_arn or ""
    _, mark, tail = arn.partition(_MARK)
    family, colon, revision = tail.rpartition(":")
    if not (mark and family and colon and revision.isdigit()):
        raise ValueError(f"not a task definition ARN: {arn!r}")
    return family, int(revision)
