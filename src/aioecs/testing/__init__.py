"""Test tooling for aioecs users and our own suites: LocalECS, an in-memory Amazon ECS.

:class:`LocalECS` emulates the ECS task API (clusters, task definitions, container instances,
RunTask/StartTask/StopTask, ListTasks, DescribeTasks) over the real wire protocol on loopback:
AWS JSON 1.1, SigV4 checked with botocore, ECS's error shapes. It does not use the aioecs client
in any way, so it can judge it - or any other ECS client, in any language.

In async tests::

    from aioecs.testing import LocalECS

    async def test_lists_my_tasks():
        async with LocalECS() as local:
            arns = local.seed_tasks(3, cluster="prod")  # straight into the model, no HTTP
            async with local.client() as ecs:  # ECSClient with its endpoint, region, key
                ...

In synchronous code (boto3, unittest), on a background thread::

    with LocalECS.in_thread(latency_ms=20) as local:
        ecs = boto3.client("ecs", **local.endpoint.client_kwargs())

With pytest, the fixtures ``local_ecs`` (async), ``local_ecs_thread`` and ``local_ecs_endpoint``
(sync) come with the package, opt-in (``pytest_plugins = ["aioecs.testing.pytest_plugin"]`` in
a conftest.py); see :mod:`aioecs.testing.pytest_plugin`. From another language's
tests, run ``python -m aioecs.testing --port 4566`` and read the one JSON line it prints (see
:mod:`aioecs.testing.__main__`).

Reliability tests inject faults, seeded so a run is reproducible::

    local = LocalECS(faults=Faults(seed=1, throttle=0.1, reset_after=0.05))
    ...
    assert local.task_count("prod") == asked_for  # no retry started a task twice
    print(local.fault_counts)  # Counter({"throttle": 4, "reset_after": 2})

See :class:`Faults` for what each fault looks like on the wire, and :attr:`LocalECS.state` for
controlling the model directly.

Importing this package is cheap: the names below are loaded on first use (the pytest plugin
lives here, and a suite that opts in imports it in every run).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._faults import Faults
    from ._server import Endpoint, LocalECS
    from ._thread import LocalECSThread

__all__ = ["Endpoint", "Faults", "LocalECS", "LocalECSThread"]

_MODULES = {
    "Endpoint": "._server",
    "Faults": "._faults",
    "LocalECS": "._server",
    "LocalECSThread": "._thread",
}


def __getattr__(name: str) -> object:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
