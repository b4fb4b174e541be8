"""Request validation before sending (stub; filled in by the validation work)."""

from __future__ import annotations

from typing import Any


def validate(operation: str, request: Any) -> None:
    """Raise `ValidationError` listing every problem of `request`; nothing to check yet."""
