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


# Every test file's tier (CONTRIBUTING.md): `pytest -m unit` runs the fast one in seconds.
# unit: functions and classes in-process, no server; integration: LocalECS, fake transports,
# subprocesses of our own; e2e: moto's ECS; meta: docs, README, packaging, lint/types, codegen.
TIERS = {
    "test_config.py": "unit",
    "test_errors.py": "unit",
    "test_models.py": "unit",
    "test_protocol_conformance.py": "unit",
    "test_retries.py": "unit",
    "test_serde.py": "unit",
    "test_signing.py": "unit",
    "test_validation.py": "unit",
    "test_cli.py": "integration",
    "test_credentials.py": "integration",  # the container provider against a local server
    "test_e2e_local.py": "integration",
    "test_fanout.py": "integration",
    "test_first_hour_errors.py": "integration",
    "test_local_ecs.py": "integration",
    "test_local_faults.py": "integration",
    "test_loop_lag.py": "integration",
    "test_observability.py": "integration",
    "test_parity.py": "integration",
    "test_quota.py": "integration",
    "test_reliability.py": "integration",
    "test_secrets.py": "integration",
    "test_testing_plugin.py": "integration",
    "test_throttled_calls.py": "integration",
    "test_watch.py": "integration",
    "test_e2e_moto.py": "e2e",
    "test_codegen.py": "meta",
    "test_docs.py": "meta",
    "test_packaging.py": "meta",
    "test_quality.py": "meta",
    "test_readme.py": "meta",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its file's tier; a file missing from TIERS fails collection.

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
        name = item.path.name
        tier = TIERS.get(name)
        if tier is None:
            untiered.add(name)
        else:
            item.add_marker(tier)
    if untiered:
        raise pytest.UsageError(
            f"no tier for {', '.join(sorted(untiered))}: add it to TIERS in tests/conftest.py "
            "(unit, integration, e2e or meta; see CONTRIBUTING.md)"
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
