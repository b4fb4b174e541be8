"""Shared fixtures: where `../shared` lives, hermetic AWS environment."""

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

SHARED = Path(os.environ.get("AIOECS_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED


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
