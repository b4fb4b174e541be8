"""pytest fixtures that give each test a fresh LocalECS (an in-memory Amazon ECS).

Opt-in, so installing aioecs changes no other project's test runs: list it in your top-level
``conftest.py``::

    pytest_plugins = ["aioecs.testing.pytest_plugin"]

or name it per run: ``pytest -p aioecs.testing.pytest_plugin``. Fixtures, all function-scoped
(each test starts from an empty emulator):

``local_ecs``
    async: a started :class:`~aioecs.testing.LocalECS` on the test's own event loop. Needs an
    async runner: pytest-asyncio (strict or auto mode) or anyio.
``local_ecs_thread``
    sync: a LocalECS served from a background thread with its own loop, for synchronous tests
    (boto3, ``requests``, a subprocess); see :class:`~aioecs.testing.LocalECSThread`.
``local_ecs_endpoint``
    sync: just where ``local_ecs_thread`` listens and what to sign with, as an
    :class:`~aioecs.testing.Endpoint` (``.client_kwargs()`` for boto3, ``.env()`` for SDKs in
    other processes).
``local_ecs_options``
    the ``LocalECS(...)`` keyword arguments the fixtures use, ``{}`` by default: override it in a
    ``conftest.py`` to change them for many tests. A ``local_ecs`` marker adds per-test ones::

        @pytest.mark.local_ecs(latency_ms=20, faults=Faults(seed=1, throttle=0.2))
        def test_retries(local_ecs_thread): ...

Why lazy imports: a suite may opt in for a handful of tests, and pytest imports the plugin at
start-up of every run of it, so this module imports nothing heavier than pytest until a
fixture runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

if TYPE_CHECKING:
    from ._server import Endpoint, LocalECS

_F = TypeVar("_F", bound=Callable[..., Any])


def _async_fixture(func: _F) -> _F:
    """pytest-asyncio's fixture decorator if it is installed (so the fixture also works in its
    strict mode), else pytest's own (which anyio's plugin runs)."""
    try:
        import pytest_asyncio
    except ImportError:
        return cast(_F, pytest.fixture(func))
    return cast(_F, pytest_asyncio.fixture(func))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "local_ecs(**options): LocalECS(...) keyword arguments for this test's local_ecs, "
        "local_ecs_thread and local_ecs_endpoint fixtures",
    )


@pytest.fixture
def local_ecs_options() -> dict[str, Any]:
    """``LocalECS(...)`` keyword arguments for the fixtures; override in a conftest.py."""
    return {}


def _options(request: pytest.FixtureRequest, defaults: dict[str, Any]) -> dict[str, Any]:
    marker = request.node.get_closest_marker("local_ecs")
    return {**defaults, **marker.kwargs} if marker is not None else dict(defaults)


@_async_fixture
async def local_ecs(
    request: pytest.FixtureRequest, local_ecs_options: dict[str, Any]
) -> AsyncIterator[LocalECS]:
    """A started LocalECS on the test's event loop; closed after the test."""
    from ._server import LocalECS

    async with LocalECS(**_options(request, local_ecs_options)) as local:
        yield local


@pytest.fixture
def local_ecs_thread(
    request: pytest.FixtureRequest, local_ecs_options: dict[str, Any]
) -> Iterator[LocalECS]:
    """A LocalECS served from a background thread, for synchronous tests; stopped after."""
    from ._server import LocalECS

    with LocalECS.in_thread(**_options(request, local_ecs_options)) as local:
        yield local


@pytest.fixture
def local_ecs_endpoint(local_ecs_thread: LocalECS) -> Endpoint:
    """URL, region and credentials of ``local_ecs_thread``."""
    return local_ecs_thread.endpoint
