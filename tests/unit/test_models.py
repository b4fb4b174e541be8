"""What the generated models look like to a caller: short reprs, lists to iterate, required
members that are required."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import attrs
import pytest

from aioecs import models as m
from aioecs import serde
from aioecs.testing import LocalECS

from ..servers import client_for


async def test_repr_of_a_real_task_shows_what_is_set() -> None:
    async with LocalECS(seed=1) as local:
        (arn,) = local.seed_tasks(1, cluster="prod", family="web")
        async with client_for(local) as ecs:
            (task,) = (await ecs.describe_tasks(cluster="prod", tasks=[arn])).tasks
    text = repr(task)
    assert text.startswith(f"Task(task_arn={arn!r}, ")
    assert "=None" not in text and "=[]" not in text and "={}" not in text
    assert f"task_arn={arn!r}" in text
    for field in attrs.fields(m.Task):
        value = getattr(task, field.name)
        shown = re.search(rf"[(, ]{field.name}=", text) is not None
        assert shown == (value not in (None, [], {})), field.name


def test_repr_leaves_out_unset_members_and_redacts_sensitive_ones() -> None:
    container = m.ContainerDefinition(
        name="web",
        environment=[m.KeyValuePair(name="DB_PASSWORD", value="hunter2")],
        repository_credentials=m.RepositoryCredentials(credentials_parameter="arn:secret"),
    )
    text = repr(container)
    assert text == (
        "ContainerDefinition(name='web', repository_credentials=<redacted>, environment=<redacted>)"
    )
    assert repr(m.ContainerDefinition(name="web")) == "ContainerDefinition(name='web')"
    assert repr(m.Task()) == "Task()"
    when = datetime(2024, 5, 1, tzinfo=timezone.utc)
    assert repr(m.Task(created_at=when, cpu="256")) == f"Task(cpu='256', created_at={when!r})"


def test_repr_is_used_by_every_model() -> None:
    for name in m._MODULES:
        cls = getattr(m, name)
        assert cls.__repr__.__module__ == "aioecs._repr", name
        assert attrs.has(cls) and "__slots__" in cls.__dict__, name


def test_lists_of_shared_structures_are_empty_not_none_and_not_sent_when_empty() -> None:
    definition = serde.decode(m.ContainerDefinition, {"name": "web"})
    assert definition.port_mappings == [] and definition.environment == []
    assert sum(pm.container_port or 0 for pm in definition.port_mappings) == 0
    assert serde.encode(m.ContainerDefinition(name="web")) == {"name": "web"}
    sent = m.ContainerDefinition(name="web", port_mappings=[m.PortMapping(container_port=80)])
    assert serde.encode(sent) == {"name": "web", "portMappings": [{"containerPort": 80}]}
    # Requests themselves still tell an explicit empty list from an absent one.
    assert serde.encode(m.UpdateServiceRequest(service="web")) == {"service": "web"}
    assert serde.encode(m.UpdateServiceRequest(service="web", load_balancers=[])) == {
        "service": "web",
        "loadBalancers": [],
    }


def test_required_members_are_required_but_a_response_without_them_decodes() -> None:
    with pytest.raises(TypeError, match="log_driver"):
        m.LogConfiguration()  # type: ignore[call-arg]
    lenient = serde.decode(m.LogConfiguration, json.loads('{"options": {"a": "b"}}'))
    assert lenient.log_driver is None and lenient.options == {"a": "b"}
    full = serde.decode(m.ContainerDefinition, {"logConfiguration": {"logDriver": "awslogs"}})
    assert full.log_configuration == m.LogConfiguration(log_driver="awslogs")
