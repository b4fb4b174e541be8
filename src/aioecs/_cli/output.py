"""Tasks to text: JSON-ready dicts, the four output formats, and the progress line.

Whole tasks are `aioecs.serde.to_dict`, so what `json` and `jsonl` print reads back with
`serde.from_dict(Task, ...)`; selected fields, the wire names (`wire=True`) and `csv` go
through `plain()`, which agrees with it on names and values: snake_case attribute names (or
the wire's camelCase), unset members left out, timestamps as ISO-8601 UTC with milliseconds.
Streaming formats write and flush one task at a time, so a consumer at the other end of a pipe
sees each task as soon as DescribeTasks returns it, and a full pipe slows the fan-out instead
of filling memory.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, TextIO

import attrs

from .. import models, serde
from .._spec import shape_of

if TYPE_CHECKING:
    from .._retry import RequestCounts

Format = Literal["table", "json", "jsonl", "csv"]
FORMATS: tuple[Format, ...] = ("table", "json", "jsonl", "csv")

# Columns of `csv` when no --fields are given: the scalar members worth a spreadsheet column.
DEFAULT_CSV_FIELDS = (
    "task_arn",
    "cluster_arn",
    "task_definition_arn",
    "last_status",
    "desired_status",
    "launch_type",
    "group",
    "started_by",
    "created_at",
    "started_at",
    "stopped_at",
)

_members: dict[type[Any], list[tuple[str, str]]] = {}


def _names(cls: type[Any]) -> list[tuple[str, str]]:
    """(attribute, wire name) of each member of an attrs model, cached per class; the
    attribute is also the snake_case output name."""
    names = _members.get(cls)
    if names is None:
        shape = shape_of(cls)
        renames = {} if shape is None else shape.wire_names
        names = [(f.name, renames.get(f.name, f.name)) for f in attrs.fields(cls)]
        _members[cls] = names
    return names


iso = serde.iso


def plain(value: Any, *, wire: bool = False) -> Any:
    """A model as JSON-ready data: dicts, lists, strings, numbers, booleans.

    Unset members (None, empty lists) are omitted, as `aioecs.serde.encode` does, so
    `wire=True` gives the same keys as the wire JSON and differs only in the timestamps.
    """
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, list):
        return [plain(item, wire=wire) for item in value]
    if isinstance(value, dict):  # keys of a map are data (e.g. labels), never renamed
        return {key: plain(item, wire=wire) for key, item in value.items()}
    if attrs.has(type(value)):
        out: dict[str, Any] = {}
        for attr, camel in _names(type(value)):
            member = getattr(value, attr)
            if member is None or (isinstance(member, (list, dict)) and not member):
                continue
            out[camel if wire else attr] = plain(member, wire=wire)
        return out
    return value


def parse_fields(text: str) -> list[str]:
    """Task attribute names from `task_arn,lastStatus,...` (snake_case or wire names).

    Raises ValueError naming the unknown ones, so the command can report a usage error.
    """
    known = {attr: attr for attr, _ in _names(models.Task)}
    known.update({camel: attr for attr, camel in _names(models.Task)})
    wanted = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise ValueError(
            f"unknown task field(s): {', '.join(unknown)}; known: "
            + ", ".join(attr for attr, _ in _names(models.Task))
        )
    if not wanted:
        raise ValueError("no fields given")
    return [known[name] for name in wanted]


def member_key(attr: str, wire: bool) -> str:
    """The output name of Task attribute `attr`: itself, or its wire name."""
    for name, camel in _names(models.Task):
        if name == attr:
            return camel if wire else name
    raise KeyError(attr)


def _selected(task: models.Task, fields: Sequence[str] | None, wire: bool) -> dict[str, Any]:
    if fields is None:
        data: dict[str, Any] = serde.to_dict(task) if not wire else plain(task, wire=True)
        return data
    return {member_key(attr, wire): plain(getattr(task, attr), wire=wire) for attr in fields}


class TaskWriter(Protocol):
    def write(self, task: models.Task) -> None: ...

    def close(self) -> None: ...


class JsonLinesWriter:
    """One JSON object per line, flushed as it is written."""

    def __init__(self, out: TextIO, fields: Sequence[str] | None, wire: bool) -> None:
        self._out, self._fields, self._wire = out, fields, wire

    def write(self, task: models.Task) -> None:
        line = json.dumps(_selected(task, self._fields, self._wire), separators=(",", ":"))
        self._out.write(line + "\n")
        self._out.flush()

    def close(self) -> None:
        self._out.flush()


class JsonWriter:
    """One JSON array, written at the end: the output is valid JSON or nothing at all."""

    def __init__(self, out: TextIO, fields: Sequence[str] | None, wire: bool) -> None:
        self._out, self._fields, self._wire = out, fields, wire
        self._items: list[dict[str, Any]] = []

    def write(self, task: models.Task) -> None:
        self._items.append(_selected(task, self._fields, self._wire))

    def close(self) -> None:
        json.dump(self._items, self._out, indent=2)
        self._out.write("\n")
        self._out.flush()


class CsvWriter:
    """A header row, then one row per task (flushed); lists and objects as compact JSON.

    The header waits for the first row or `close()`: a command that fails before listing
    anything prints nothing on stdout but its error on stderr.
    """

    def __init__(self, out: TextIO, fields: Sequence[str] | None, wire: bool) -> None:
        self._out = out
        self._fields = list(fields or DEFAULT_CSV_FIELDS)
        self._csv = csv.writer(out, lineterminator="\n")
        self._wire = wire
        self._headed = False

    def _head(self) -> None:
        if not self._headed:
            self._headed = True
            self._csv.writerow([member_key(attr, self._wire) for attr in self._fields])

    def write(self, task: models.Task) -> None:
        self._head()
        row = []
        for attr in self._fields:
            value = plain(getattr(task, attr), wire=self._wire)
            if value is None:
                row.append("")
            elif isinstance(value, (list, dict)):
                row.append(json.dumps(value, separators=(",", ":")))
            else:
                row.append(str(value).lower() if isinstance(value, bool) else str(value))
        self._csv.writerow(row)
        self._out.flush()

    def close(self) -> None:
        self._head()
        self._out.flush()


class Progress:
    """`1,234 tasks  3,456 tasks/s` redrawn on one stderr line, at most ten times a second.

    Only drawn when stderr is a terminal: in a log file or a CI transcript it would be noise.
    `clear()` erases it before another line is printed on the same terminal. The clock starts
    when it is created, so create it when the work to measure starts.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self.enabled = isatty(self._stream)
        self._started = time.perf_counter()
        self._last = 0.0
        self._shown = False

    def update(self, count: int, counts: RequestCounts | None = None) -> None:
        """Redraw with `count` tasks so far and, if given, the requests they took."""
        if not self.enabled:
            return
        now = time.perf_counter()
        # Not in the first moments (a rate from a few tasks means nothing), then 10 times a second.
        if now - self._last < 0.1 or now - self._started < 0.25:
            return
        self._last = now
        rate = count / (now - self._started)
        line = f"{_tasks(count)}  {rate:,.0f} tasks/s"
        if counts is not None:
            line += f"  {requests_line(counts)}"
        self._stream.write(f"\r\x1b[2K{line}")
        self._stream.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            self._stream.write("\r\x1b[2K")
            self._stream.flush()
            self._shown = False

    def finish(self, count: int, counts: RequestCounts | None = None) -> None:
        """Replace the line with a final summary (still only on a terminal)."""
        if not self.enabled:
            return
        self.clear()
        elapsed = time.perf_counter() - self._started
        rate = count / max(elapsed, 1e-9)
        line = f"{_tasks(count)} in {elapsed:.2f} s ({rate:,.0f} tasks/s)"
        if counts is not None:
            line += f"; {requests_line(counts)}"
        self._stream.write(line + "\n")
        self._stream.flush()


def requests_line(counts: RequestCounts) -> str:
    """`214 requests, 3 throttled, 3 retried`: what a job cost against the account's quota."""
    return (
        f"{counts.sent:,} request{'' if counts.sent == 1 else 's'}, "
        f"{counts.throttled:,} throttled, {counts.retried:,} retried"
    )


def _tasks(count: int) -> str:
    return f"{count:,} task{'' if count == 1 else 's'}"


def isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
