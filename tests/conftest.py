"""Shared fixtures: where `../shared` lives, hermetic AWS environment, differential replies."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aioecs import AiohttpTransport, HttpRequest, HttpResponse, _validate, serde
from aioecs import models as m

from ._differential import assert_same, botocore_parse
from ._env import hermetic_settings

# The emulator's fixtures (local_ecs, local_ecs_thread, ...), opted in as a user's suite would.
pytest_plugins = ["aioecs.testing.pytest_plugin"]

SHARED = Path(os.environ.get("AIOECS_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))


@pytest.fixture(autouse=True)
def _caches_of_the_mutant() -> None:
    """Under mutation testing (scripts/mutation.py), each mutant runs in a process forked after
    the unmutated code filled `_validate`'s caches; clear them so that the mutant's code builds
    the checkers it is judged by."""
    if os.environ.get("MUTANT_UNDER_TEST"):
        _validate._BY_OPERATION_CACHE.clear()
        _validate._CLASS_CACHE.clear()
        _validate._Pattern._cache.clear()


# Every test's tier is the folder it sits in (CONTRIBUTING.md): `pytest -m unit` (or
# `pytest tests/unit`) runs the fast one in seconds.
# unit: functions and classes in-process, no server; integration: LocalECS, fake transports,
# subprocesses of our own; e2e: moto's ECS; meta: docs, README, packaging, lint/types, codegen.
TIERS = ("unit", "integration", "e2e", "meta")
_TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its folder's tier; a test file outside the tier folders fails
    collection, naming the file.

    Under scripts/mutation.py, run only the test files it names for the module it mutates
    (`AIOECS_MUTATION_TESTS`, comma-separated paths): the rest of [tool.mutmut]'s selection
    reaches that module only by the way, and would cost minutes per run."""
    chosen = os.environ.get("AIOECS_MUTATION_TESTS")
    if chosen:
        files = {Path(name).name for name in chosen.split(",")}
        config.hook.pytest_deselected(items=[i for i in items if i.path.name not in files])
        items[:] = [item for item in items if item.path.name in files]
    untiered = set()
    for item in items:
        parts = item.path.resolve().relative_to(_TESTS).parts
        if parts[0] in TIERS:
            item.add_marker(parts[0])
        else:
            untiered.add(item.path.name)
    if untiered:
        raise pytest.UsageError(
            f"no tier for {', '.join(sorted(untiered))}: move it into tests/unit, "
            "tests/integration, tests/e2e or tests/meta (see CONTRIBUTING.md)"
        )


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED


@pytest.fixture
def hermetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No AWS settings from this machine: every `AWS_*` variable cleared, the shared files and
    HOME in tmp_path, IMDS disabled (see `_env.hermetic_settings`). Returns tmp_path, where a
    test may write `config` and `credentials`."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in hermetic_settings(tmp_path).items():
        monkeypatch.setenv(name, value)
    return tmp_path


class RecordingTransport:
    """A real transport that keeps every successful reply, for the differential check."""

    def __init__(self) -> None:
        self.real = AiohttpTransport()
        self.seen: list[tuple[str, bytes]] = []

    async def send(self, request: HttpRequest) -> HttpResponse:
        response = await self.real.send(request)
        if response.status == 200:
            self.seen.append((request.operation, response.body))
        return response

    async def close(self) -> None:
        await self.real.close()


@pytest.fixture
async def replies() -> AsyncIterator[RecordingTransport]:
    """A transport to give a client (`transport=replies`): every successful reply it carries
    is decoded afterwards and compared with botocore's parse of the same bytes."""
    recorder = RecordingTransport()
    yield recorder
    compared = 0
    for operation, body in recorder.seen:
        ours = serde.decode(getattr(m, f"{operation}Response"), json.loads(body))
        compared += assert_same(ours, botocore_parse(operation, body), f"{operation}$")
    # A test that asks for this comparison and records nothing compared nothing: fail it.
    assert recorder.seen, "no successful reply was recorded, so none was compared with botocore"
    assert compared > 0, "the replies recorded had no member to compare with botocore"
