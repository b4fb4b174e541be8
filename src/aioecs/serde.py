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
    flat = _flat(type(obj))
    if flat is not None:
        wire = {}
        for name, (key, kind, required) in flat.items():
            value = getattr(obj, name)
            if value is not None or required:
                wire[key] = list(value) if kind is _LIST else value
        return wire
    from . import _converters

    return _converters.encode(obj)


def build_request(operation: str, cls: type[T], params: Mapping[str, Any]) -> T:
    """The input model for keyword arguments; a `ValidationError` names every bad path."""
    flat = _flat(cls)
    if flat is not None:
        built = _built_flat(cls, flat, params)
        if built is not None:
            return built
    from . import _converters

    return _converters.build_request(operation, cls, params)  # type: ignore[no-any-return]


# --- flat requests without cattrs ----------------------------------------------------------
# Most requests (59 of 88 operations, the reads a script starts with among them) hold only strings,
# integers, booleans, enumeration values and lists of strings. For those, `build_request` and
# `encode` take the arguments as they are when each is of exactly the type the model says, so
# a short program's first calls need neither cattrs nor its compiled functions (`_converters`).
# Anything else (a value of another type, an unknown key, a nested structure, a timestamp)
# takes cattrs' path, which coerces or reports it: this path never decides an error.

_LIST = object()  # a list of strings (or of enumeration values)


def _flat(cls: type[Any]) -> dict[str, tuple[str, Any, bool]] | None:
    """Each member's wire name, exact type (`_LIST` for a list of strings) and whether it is
    required, for a generated request structure with only such members; else None."""
    try:
        return _FLAT[cls]
    except KeyError:
        pass
    except TypeError:  # unhashable: not a class
        return None
    plan = _flat_plan(cls)
    _FLAT[cls] = plan
    return plan


_FLAT: dict[type[Any], dict[str, tuple[str, Any, bool]] | None] = {}


def _flat_plan(cls: type[Any]) -> dict[str, tuple[str, Any, bool]] | None:
    import typing

    import attrs

    shape = shape_of(cls)
    if shape is None or shape.decode is not None or not attrs.has(cls):
        return None  # classes of your own, and output structures (cattrs' encoding, nested)
    plan = {}
    for field in attrs.fields(cls):
        required = field.default is attrs.NOTHING
        if not required and field.default is not None:
            return None
        tp = field.type
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if typing.get_origin(tp) is not list and len(args) == 1 and not required:
            tp = args[0]  # X | None
        kind: Any
        if tp in (str, int, bool):  # not float: NaN is a float, and no JSON
            kind = tp
        elif typing.get_origin(tp) is typing.Literal:
            kind = str
        elif typing.get_origin(tp) is list and _is_string(typing.get_args(tp)[0]):
            kind = _LIST
        else:
            return None
        plan[field.name] = (shape.wire_names.get(field.name, field.name), kind, required)
    return plan


def _is_string(tp: Any) -> bool:
    import typing

    return tp is str or typing.get_origin(tp) is typing.Literal


def _built_flat(
    cls: type[T], flat: dict[str, tuple[str, Any, bool]], params: Mapping[str, Any]
) -> T | None:
    """The request when every argument is exactly of its member's type, else None."""
    kwargs: dict[str, Any] = {name: None for name, (_, _, required) in flat.items() if required}
    for name, value in params.items():
        member = flat.get(name)
        if member is None:
            return None
        kind = member[1]
        if value is None or type(value) is kind:
            kwargs[name] = value
        elif kind is _LIST and type(value) is list and all(type(i) is str for i in value):
            kwargs[name] = list(value)  # a copy, as cattrs makes: the model's own list
        else:
            return None
    return cls(**kwargs)


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
