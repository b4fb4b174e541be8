"""Models <-> JSON, in two dialects.

The wire: `decode(cls, data)` turns a parsed ECS response into a model, leniently (members it
does not know are ignored, so a newer ECS does not break an older client); `encode(obj)` turns
a model into wire JSON (camelCase names, `None` members omitted, timestamps as epoch seconds).
Every structure an ECS response can hold decodes through a straight-line function codegen
wrote beside its class (`decode_task` for `Task`), which the class's descriptor names
(`Task.__shape__.decode`, see `aioecs._spec.ShapeSpec`) and which `decode` calls directly;
that keeps decoding a page of 100 described tasks within about twice `json.loads`, and keeps
cattrs unloaded until something needs it (building or encoding a request, `to_dict`,
`from_dict`, decoding a class without a generated decoder: `aioecs._converters`). Wire names
come from the same descriptor.

Your own storage: `to_dict(obj)` gives JSON-ready data with the Python (snake_case) names and
ISO 8601 UTC timestamps, what `aioecs tasks --format jsonl` prints; `from_dict(cls, data)` is
its strict inverse: an unknown key or a value of the wrong type raises `ValidationError`
naming its path, so nothing is lost without a word. `from_dict(cls, to_dict(obj)) == obj`
for every model `to_dict` accepts; what JSON cannot hold exactly it refuses, with the path:
a required member that is None, a float that is NaN or infinite, a time finer than a
microsecond.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar

from ._decoding import collected_after
from ._spec import shape_of

__all__ = ["decode", "encode", "from_dict", "to_dict"]

T = TypeVar("T")
_UTC = timezone.utc


def decode(cls: type[T], data: Any) -> T:
    """A model of class `cls` from parsed wire JSON (camelCase names, epoch timestamps).

    Lenient on purpose, for forward compatibility: members the model does not know are
    ignored and values are not type-checked, so a response from a newer ECS still decodes.
    That also means a dict in another shape (snake_case keys, `attrs.asdict` output) decodes
    to a model of Nones without complaint: for data of your own, use `from_dict`.
    """
    shape = shape_of(cls)
    if shape is not None and shape.decode is not None:
        decoded: T = collected_after(shape.decode, data)
        return decoded
    from . import _converters

    return _converters.wire_hook(cls)(data, cls)  # type: ignore[no-any-return]


def to_dict(obj: Any) -> Any:
    """JSON-ready data for a model: snake_case names, timestamps as ISO 8601 UTC strings
    (`2024-05-01T12:00:03.250Z`), members that are `None` (or an unset empty list) left out.

    `json.dumps(to_dict(task))` works; `from_dict(Task, ...)` reads it back. A model that
    could not be read back (a required member None, as in a task decoded leniently from an
    answer that lacked it; a NaN or infinite float) raises `ValidationError` with each path.
    """
    from . import _converters

    return _converters.to_dict(obj)


def from_dict(cls: type[T], data: Any) -> T:
    """The model `to_dict` made `data` from; strict where `decode` is lenient.

    Keys are the snake_case attribute names. An unknown key, a missing required member or a
    value of the wrong type raises `ValidationError`, with every problem as `(path, message)`.
    Timestamps are ISO 8601 strings or datetimes: without an offset they stay naive, as
    `to_dict` writes a naive datetime; with one they become UTC. A fraction of a second finer
    than a microsecond, and a NaN or infinite number, are refused, never cut or kept.
    """
    from . import _converters

    return _converters.from_dict(cls, data)  # type: ignore[no-any-return]


def encode(obj: Any) -> Any:
    """Wire JSON (dicts, lists, scalars) for a model, omitting members that are `None`."""
    from . import _converters

    return _converters.encode(obj)


def build_request(operation: str, cls: type[T], params: Mapping[str, Any]) -> T:
    """The input model for keyword arguments; a `ValidationError` names every bad path."""
    from . import _converters

    return _converters.build_request(operation, cls, params)  # type: ignore[no-any-return]


def decoder(cls: type[T]) -> Callable[[Any], T]:
    """`decode` bound to one class, with the dispatch done once: for hot loops (the
    fan-out's tasks). Unlike `decode`, it leaves the cyclic garbage collector alone: a
    caller decoding a page item by item can hold it off for the whole page."""
    shape = shape_of(cls)
    if shape is not None and shape.decode is not None:
        return shape.decode
    from . import _converters

    hook = _converters.wire_hook(cls)
    return lambda data: hook(data, cls)


def iso(value: datetime) -> str:
    """`2024-05-01T12:00:03.250Z`: UTC, milliseconds (what ECS sends), microseconds only when
    there are any, so that no instant is rounded. A naive datetime is written without an
    offset (`2024-05-01T12:00:03.250`), so that it reads back naive, equal to itself."""
    spec = "milliseconds" if value.microsecond % 1000 == 0 else "microseconds"
    if value.tzinfo is None:
        return value.isoformat(timespec=spec)
    return value.astimezone(_UTC).isoformat(timespec=spec)[:-6] + "Z"
