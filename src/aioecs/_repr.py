"""The repr of every generated model: only the members that are set.

A described Task has some 50 members, most of them unset; attrs' repr printed every one
(`=None` 40 times, the task's ARN at character 629). Members hidden from reprs because the
model marks them sensitive show as `<redacted>` when set, so a reader knows they exist.
A structure's own ARN (`Task.task_arn`, `Service.service_arn`) comes first: it says which one
this is, and the model's order would put it after the containers.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

# Per class: (attribute, shown) pairs, in declaration order; `shown` is False for sensitive
# members (generated with `repr=False`).
_FIELDS: dict[type[Any], tuple[tuple[str, bool], ...]] = {}


def model_repr(self: Any) -> str:
    cls = type(self)
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = _FIELDS[cls] = _fields(cls)
    parts = []
    for name, shown in fields:
        value = getattr(self, name)
        if value is None or (type(value) in (list, dict) and not value):
            continue
        parts.append(f"{name}={value!r}" if shown else f"{name}=<redacted>")
    return f"{cls.__name__}({', '.join(parts)})"


def _fields(cls: type[Any]) -> tuple[tuple[str, bool], ...]:
    own_arn = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower() + "_arn"
    fields = [(f.name, f.repr is not False) for f in attrs.fields(cls)]
    fields.sort(key=lambda field: field[0] != own_arn)  # stable: the rest keep their order
    return tuple(fields)
