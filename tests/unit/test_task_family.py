"""`aioecs.task_family`: a task's task definition family and revision."""

from __future__ import annotations

import pytest

import aioecs
from aioecs import models as m

PREFIX = "arn:aws:ecs:us-east-1:123456789012:task-definition/"


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (PREFIX + "web:3", ("web", 3)),
        (PREFIX + "my_app-2:117", ("my_app-2", 117)),
        ("arn:aws-cn:ecs:cn-north-1:123456789012:task-definition/batch:1", ("batch", 1)),
    ],
)
def test_family_and_revision(arn: str, expected: tuple[str, int]) -> None:
    assert aioecs.task_family(m.Task(task_definition_arn=arn)) == expected


@pytest.mark.parametrize(
    "arn", [None, "", "web:3", PREFIX + "web", PREFIX + "web:x", PREFIX + ":3", PREFIX]
)
def test_not_a_task_definition_arn(arn: str | None) -> None:
    with pytest.raises(ValueError, match="not a task definition ARN"):
        aioecs.task_family(m.Task(task_definition_arn=arn))
