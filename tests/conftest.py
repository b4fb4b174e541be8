"""Shared fixtures: where `../shared` lives, hermetic AWS environment, differential replies."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from aioecs import _protocol, serde
from aioecs import models as m
from aioecs.client import ECSClient

from ._differential import assert_same, botocore_parse
from ._env import hermetic_settings

# The emulator's fixtures (local_ecs, local_ecs_thread, ...), opted in as a user's suite would.
pytest_plugins = ["aioecs.testing.pytest_plugin"]

SHARED = Path(os.environ.get("AIOECS_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))


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


@pytest.fixture
def replies(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, bytes]]]:
    """Record every successful reply; afterwards decode each and compare with botocore."""
    seen: list[tuple[str, bytes]] = []
    original = ECSClient._send

    async def recording(
        self: ECSClient, operation: str, body: bytes, **kw: bool
    ) -> _protocol.Reply:
        reply = await original(self, operation, body, **kw)
        seen.append((operation, reply.body))
        return reply

    monkeypatch.setattr(ECSClient, "_send", recording)
    yield seen
    compared = 0
    for operation, body in seen:
        ours = serde.decode(getattr(m, f"{operation}Response"), json.loads(body))
        compared += assert_same(ours, botocore_parse(operation, body), f"{operation}$")
    assert not seen or compared > 0
