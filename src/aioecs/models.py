"""Typed models of every ECS request, response and nested structure.

Enumerations are `Literal` aliases: static type checkers know the documented values, while
values AWS adds later still decode (as plain strings) instead of failing. Structures are
attrs classes (frozen, slots, keyword-only).

The models are generated (`aioecs._generated.models`); this module is their public name.
Each class is built on first use, not on import: all 400 cost about 0.3 s, and a fleet job
touches a few dozen.
"""

from typing import TYPE_CHECKING, Any

from ._generated import models as _generated

if TYPE_CHECKING:
    from ._generated.models import *  # noqa: F403

__all__ = _generated.__all__


def __getattr__(name: str) -> Any:
    try:
        value = getattr(_generated, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
