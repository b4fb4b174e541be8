"""The cattrs side of `aioecs.serde`: request models from keyword arguments, wire JSON from
models, `to_dict`/`from_dict`, and decoding classes that have no generated decoder.

Imported on first use of one of those, not with `serde`: cattrs and the converters built
here cost several milliseconds, and decoding a response (generated code) needs neither.
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import attrs
import cattrs
from cattrs.cols import list_structure_factory
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._decoding import timestamp
from ._exceptions import ValidationError
from ._spec import shape_of
from .serde import iso

_UTC = timezone.utc


def _is_literal(tp: Any) -> bool:
    return typing.get_origin(tp) is typing.Literal


def _is_optional(tp: Any) -> bool:
    args = typing.get_args(tp)
    return len(args) == 2 and type(None) in args and _is_union(tp)


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _is_list(tp: Any) -> bool:
    return typing.get_origin(tp) is list


class _Identity:
    """A structure hook that returns the JSON value as it is (str, int, bool, Literal, Any).

    It is falsy on purpose: for a falsy hook, cattrs' generated function reads `o[key]`
    directly instead of calling the hook, which saves a call per member of every model
    decoded. (Were cattrs to call it anyway, it still returns the value unchanged.)
    """

    __slots__ = ()

    def __call__(self, value: Any, _: Any) -> Any:
        return value

    def __bool__(self) -> bool:
        return False


_passthrough = _Identity()


def _decode_timestamp(value: Any, _: Any) -> datetime:
    return timestamp(value)


def _encode_timestamp(value: datetime) -> int | float:
    if value.tzinfo is None:  # naive datetimes are taken as UTC, as botocore does
        value = value.replace(tzinfo=_UTC)
    seconds = value.timestamp()
    return int(seconds) if value.microsecond == 0 else seconds


def _converter(*, strict: bool) -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=strict, detailed_validation=strict)
    # Enum values are typed as Literal for static checkers but taken as they are: AWS adds
    # values (launchType gained MANAGED_INSTANCES) faster than any client ships.
    conv.register_structure_hook_func(_is_literal, _passthrough)
    conv.register_structure_hook(datetime, _decode_timestamp)
    return conv


def _wire_converter(*, generated: bool = True) -> cattrs.Converter:
    """The converter of `decode` and `encode`. Output structures decode through the functions
    codegen wrote for them; `generated=False` gives cattrs' generic path for every class, which
    the tests hold them to."""
    conv = _converter(strict=False)
    conv.register_unstructure_hook(datetime, _encode_timestamp)
    # JSON already gives these types; skip cattrs' coercing calls (str(), int()) on the hot path.
    for scalar in (str, int, bool):
        conv.register_structure_hook(scalar, _passthrough)
    conv.register_structure_hook(float, lambda v, _: float(v))

    def structure_factory(cls: type[Any]) -> Callable[[Any, Any], Any]:
        decode = _generated_decoder(cls) if generated else None
        if decode is not None:  # every output structure: the fast path
            return _two_arguments(decode)
        return _lenient_structure(conv, cls)

    # cattrs' default Optional and list hooks look the inner hook up on every value; these
    # factories look it up once per type, which makes decoding a Task several times faster.
    def optional_factory(tp: Any) -> Callable[[Any, Any], Any]:
        (inner,) = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        handler = conv.get_structure_hook(inner)
        if handler is _passthrough:
            return _passthrough

        def structure_optional(value: Any, _: Any) -> Any:
            return None if value is None else handler(value, inner)

        return structure_optional

    def list_factory(tp: Any) -> Callable[[Any, Any], Any]:
        (inner,) = typing.get_args(tp) or (Any,)
        handler = conv.get_structure_hook(inner)
        if handler is _passthrough:
            return lambda value, _: list(value)
        return lambda value, _: [handler(item, inner) for item in value]

    def unstructure_factory(cls: type[Any]) -> Callable[[Any], Any]:
        return make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True, **_renamed(cls))

    conv.register_structure_hook_factory(attrs.has, structure_factory)
    conv.register_structure_hook_factory(_is_optional, optional_factory)
    conv.register_structure_hook_factory(_is_list, list_factory)
    conv.register_structure_hook(typing.Any, _passthrough)
    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    return conv


def _lenient_structure(conv: cattrs.Converter, cls: type[Any]) -> Callable[[Any, Any], Any]:
    """cattrs' function for a class decoded from the wire without generated code. Members a
    caller must give (LogConfiguration.log_driver) are required in the class; a response
    without one still decodes, with None there: lenient, like botocore."""
    renamed = _renamed(cls)
    required = [f for f in attrs.fields(cls) if f.default is attrs.NOTHING]
    if not required:
        return make_dict_structure_fn(cls, conv, **renamed)
    for field in required:
        hook = conv.get_structure_hook(field.type)
        previous = renamed.get(field.name)
        rename = previous.rename if previous is not None else None
        renamed[field.name] = override(rename=rename, struct_hook=_or_none(hook))
    structure = make_dict_structure_fn(cls, conv, **renamed)
    keys = [renamed[f.name].rename or f.name for f in required]

    def structure_lenient(value: Any, tp: Any) -> Any:
        try:
            return structure(value, tp)
        except KeyError:
            if not isinstance(value, Mapping):
                raise
            return structure({**dict.fromkeys(keys), **value}, tp)

    return structure_lenient


def _generated_decoder(cls: type[Any]) -> Callable[[Any], Any] | None:
    """The decoder codegen wrote beside an output structure (`decode_task` for `Task`), as its
    descriptor names it, or None: input-only structures and classes of your own take cattrs'
    path. (`serde.decode` calls it without this converter; here it serves the structures
    nested in those other classes.)"""
    shape = shape_of(cls)
    return None if shape is None else shape.decode


def _two_arguments(decode: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    """A generated decoder as a cattrs structure hook, `(value, type)`."""

    def structure(value: Any, _: Any) -> Any:
        return decode(value)

    return structure


def _or_none(hook: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def structure(value: Any, tp: Any) -> Any:
        return None if value is None else hook(value, tp)

    return structure


def _python_converter(*, data: bool = False) -> cattrs.Converter:
    """Builds request models from keyword arguments: models pass through, mappings with
    snake_case keys become models, unknown keys are reported instead of silently dropped.

    With `data=True`, the converter of `from_dict`: timestamps must be ISO 8601 strings (or
    datetimes) rather than anything `decode` takes, and enumeration values must be strings.
    """
    conv = _converter(strict=True)
    if data:
        conv.register_structure_hook_func(_is_literal, _strict_scalar(str, "a string"))
        conv.register_structure_hook(datetime, _iso_timestamp)

    def structure_factory(cls: type[Any]) -> Callable[[Any, Any], Any]:
        required: list[str] = []
        overrides: dict[str, Any] = {}
        if not data:
            # A missing required member is left None here, for `_validate` to report along
            # with every other problem of the request, instead of alone from here.
            for field in attrs.fields(cls):
                if field.default is attrs.NOTHING:
                    required.append(field.name)
                    hook = _or_none(conv.get_structure_hook(field.type))
                    overrides[field.name] = override(struct_hook=hook)
        from_mapping = make_dict_structure_fn(
            cls, conv, _cattrs_forbid_extra_keys=True, **overrides
        )

        def structure(value: Any, _: Any) -> Any:
            if isinstance(value, cls):
                return value
            if not isinstance(value, Mapping):
                raise TypeError(f"expected {cls.__name__} or a mapping, got {type(value).__name__}")
            if required:
                value = {**dict.fromkeys(required), **value}
            return from_mapping(value, cls)

        return structure

    conv.register_structure_hook_factory(attrs.has, structure_factory)

    def list_factory(tp: Any) -> Callable[[Any, Any], Any]:
        elements = list_structure_factory(tp, conv)

        def structure(value: Any, _: Any) -> Any:
            # A string is iterable: "abc" must not become ["a", "b", "c"].
            if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
                raise TypeError(f"expected a list, got {type(value).__name__}")
            return elements(value, tp)

        return structure

    conv.register_structure_hook_factory(_is_list, list_factory)
    for scalar, name in (
        (str, "a string"),
        (int, "an integer"),
        (float, "a number"),
        (bool, "a boolean"),
    ):
        conv.register_structure_hook(scalar, _strict_scalar(scalar, name))
    return conv


def _strict_scalar(kind: type[Any], name: str) -> Callable[[Any, Any], Any]:
    def check(value: Any, _: Any) -> Any:
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        # bool is an int in Python; an API integer given True is almost surely a mistake.
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise TypeError(f"expected {name}, got {type(value).__name__}")
        if kind is float and not math.isfinite(value):  # JSON has no NaN or infinity
            raise ValueError(f"expected a finite number, got {value}")
        return value

    return check


_FRACTION = re.compile(r"\.(\d{7,})")


def _iso_timestamp(value: Any, _: Any) -> datetime:
    """An ISO 8601 timestamp, or a datetime; one without an offset stays naive, as `to_dict`
    wrote it. Finer than a microsecond is refused rather than cut (a datetime holds no more)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        fraction = _FRACTION.search(value)
        if fraction is not None:
            digits = fraction.group(1)
            if digits[6:].strip("0"):
                raise ValueError(f"{value!r} is finer than a microsecond, which a datetime keeps")
            value = value[: fraction.start(1) + 6] + value[fraction.end(1) :]
        # Before 3.11, fromisoformat does not take the "Z" suffix.
        parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    else:
        raise TypeError(f"expected an ISO 8601 timestamp, got {type(value).__name__}")
    return parsed if parsed.tzinfo is None else parsed.astimezone(_UTC)


def _dict_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_unstructure_hook(datetime, iso)

    def unstructure_factory(cls: type[Any]) -> Callable[[Any], Any]:
        # Members equal to their default are left out: None, and the empty list of a member
        # that defaults to one; an explicitly empty list where the default is None stays.
        unstructure = make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True)
        required, floats = _checked_members(cls)
        if not required and not floats:
            return unstructure

        def checked(obj: Any) -> Any:
            if any(getattr(obj, name) is None for name in required) or any(
                (v := getattr(obj, name)) is not None and not math.isfinite(v) for name in floats
            ):
                raise _Unencodable
            return unstructure(obj)

        return checked

    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    return conv


class _Unencodable(Exception):
    """A model `to_dict` cannot write so that `from_dict` reads it back (see `_unencodable`)."""


def _checked_members(cls: type[Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A class's required members, and its float members (which may hold NaN or infinity)."""
    fields = attrs.fields(cls)
    required = tuple(f.name for f in fields if f.default is attrs.NOTHING)
    floats = tuple(f.name for f in fields if float in (f.type, *typing.get_args(f.type)))
    return required, floats


def _unencodable(obj: Any, path: str) -> Iterable[tuple[str, str]]:
    """Every `(path, problem)` that kept `to_dict` from writing `obj`."""
    if isinstance(obj, list):
        for index, item in enumerate(obj):
            yield from _unencodable(item, f"{path}[{index}]")
    elif isinstance(obj, float) and not math.isfinite(obj):
        yield path, f"{obj} is not a finite number: JSON cannot hold it"
    elif attrs.has(type(obj)):
        for field in attrs.fields(type(obj)):
            value = getattr(obj, field.name)
            if value is None and field.default is attrs.NOTHING:
                yield _join(path, field.name), "required member missing"
            yield from _unencodable(value, _join(path, field.name))


def _renamed(cls: type[Any]) -> dict[str, Any]:
    """cattrs overrides that map a class's attributes to their wire (camelCase) names."""
    shape = shape_of(cls)
    renames = {} if shape is None else shape.wire_names
    return {py: override(rename=wire) for py, wire in renames.items()}


_wire = _wire_converter()
_python = _python_converter()
_data = _python_converter(data=True)
_dict = _dict_converter()


def wire_hook(cls: type[Any]) -> Callable[[Any, Any], Any]:
    """The wire converter's structure function for a class without a generated decoder."""
    return _wire.get_structure_hook(cls)


def encode(obj: Any) -> Any:
    return _wire.unstructure(obj)


def to_dict(obj: Any) -> Any:
    try:
        return _dict.unstructure(obj)
    except _Unencodable:
        problems = list(_unencodable(obj, ""))
        raise ValidationError(type(obj).__name__, problems, kind="data") from None


def from_dict(cls: type[Any], data: Any) -> Any:
    try:
        return _data.structure(data, cls)
    except (ClassValidationError, ForbiddenExtraKeysError, TypeError, ValueError) as exc:
        raise ValidationError(cls.__name__, list(_problems(exc, "")), kind="data") from None


def build_request(operation: str, cls: type[Any], params: Mapping[str, Any]) -> Any:
    try:
        return _python.structure(params, cls)
    except (ClassValidationError, ForbiddenExtraKeysError, TypeError, ValueError) as exc:
        raise ValidationError(operation, list(_problems(exc, ""))) from None


def _problems(exc: BaseException, path: str) -> Sequence[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if isinstance(exc, ForbiddenExtraKeysError):
        for key in sorted(exc.extra_fields):
            out.append((_join(path, key), "unknown member"))
    elif isinstance(exc, cattrs.BaseValidationError):
        notes = exc.group_exceptions() if isinstance(exc, ClassValidationError) else None
        if notes is not None:
            _with_notes, _without = notes
            for sub, note in _with_notes:
                name = getattr(note, "name", None)
                index = getattr(note, "index", None)
                sub_path = _join(path, name) if name is not None else f"{path}[{index}]"
                out.extend(_problems(sub, sub_path))
            for sub in _without:
                out.extend(_problems(sub, path))
        else:
            for sub in exc.exceptions:
                notes_of_sub = getattr(sub, "__notes__", None)
                index = getattr(notes_of_sub[0], "index", None) if notes_of_sub else None
                out.extend(_problems(sub, f"{path}[{index}]" if index is not None else path))
    elif isinstance(exc, KeyError):
        out.append((path, "required member missing"))
    else:
        out.append((path, str(exc)))
    return out


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
