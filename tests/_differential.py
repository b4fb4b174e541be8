"""Compare our decoded model with what botocore's own JSON parser makes of the same bytes."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import attrs

from aioecs._spec import shape_of


@functools.cache
def _service_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("ecs")


def botocore_parse(operation: str, body: bytes) -> dict[str, Any]:
    """botocore's parse of a 200 response body for `operation`."""
    from botocore.parsers import create_parser

    shape = _service_model().operation_model(operation).output_shape
    parsed = create_parser("json").parse({"body": body, "headers": {}, "status_code": 200}, shape)
    parsed.pop("ResponseMetadata", None)
    return dict(parsed)


def assert_same(ours: Any, theirs: Any, path: str = "$") -> int:
    """Walk both trees in step; returns how many leaves were compared.

    Timestamps compare as instants (botocore gives tzlocal datetimes, we give UTC); a member
    botocore leaves out must be None in ours, or an empty list/dict for output lists.
    """
    if attrs.has(type(ours)):
        assert isinstance(theirs, dict), f"{path}: botocore gave {type(theirs).__name__}"
        shape = shape_of(type(ours))
        renames = shape.wire_names if shape is not None else {}
        wire_names = set()
        count = 0
        for field in attrs.fields(type(ours)):
            wire = renames.get(field.name, field.name)
            wire_names.add(wire)
            value = getattr(ours, field.name)
            if wire not in theirs:
                assert value in (None, [], {}), f"{path}.{wire}: we have {value!r}, botocore none"
                continue
            count += assert_same(value, theirs[wire], f"{path}.{wire}")
        extra = set(theirs) - wire_names
        assert not extra, f"{path}: botocore has members we dropped: {sorted(extra)}"
        return count
    if isinstance(ours, list):
        assert isinstance(theirs, list) and len(ours) == len(theirs), path
        pairs = enumerate(zip(ours, theirs, strict=True))
        return sum(assert_same(a, b, f"{path}[{i}]") for i, (a, b) in pairs)
    if isinstance(ours, dict):
        assert isinstance(theirs, dict) and ours.keys() == theirs.keys(), path
        return sum(assert_same(ours[k], theirs[k], f"{path}.{k}") for k in ours)
    if isinstance(ours, datetime):
        assert isinstance(theirs, datetime), path
        assert ours.tzinfo is not None and ours.utcoffset().total_seconds() == 0, path
        assert ours == theirs, f"{path}: {ours.isoformat()} != {theirs.isoformat()}"
        return 1
    assert type(ours) is type(theirs) and ours == theirs, f"{path}: {ours!r} != {theirs!r}"
    return 1
