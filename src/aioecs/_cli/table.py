"""The `table` format: a rich table for people, with short names and human timestamps.

ARNs are shortened to what identifies a task within its listing (the task id, the cluster
name, `family:revision`), and times are shown in UTC with their age, so that a row fits a
terminal line; `--format jsonl` or `csv` give the full values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any, TextIO

from .. import models
from .output import isatty, member_key, plain

_UTC = timezone.utc


def short_arn(arn: str | None) -> str:
    """`arn:...:task/prod/0a1b...` -> `0a1b...`; `...:task-definition/web:3` -> `web:3`."""
    return "" if not arn else arn.rsplit("/", 1)[-1]


def family(task_definition_arn: str | None) -> str:
    """The task definition family of an ARN (`web` for `...:task-definition/web:3`)."""
    return short_arn(task_definition_arn).rsplit(":", 1)[0]


def human_time(value: datetime | None, now: datetime | None = None) -> str:
    """`2024-05-01 12:00:03 (5m ago)`, in UTC so that rows from any machine compare."""
    if value is None:
        return ""
    now = now or datetime.now(_UTC)
    return f"{value.astimezone(_UTC):%Y-%m-%d %H:%M:%S} ({age(now - value)})"


def age(delta: Any) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return "in the future"
    if seconds < 60:
        return f"{seconds}s ago"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if minutes < 60:
        return f"{minutes}m ago"
    if hours < 48:
        return f"{hours}h{minutes % 60:02d}m ago"
    return f"{days}d{hours % 24:02d}h ago"


_Column = tuple[str, Callable[[models.Task], str]]

DEFAULT_COLUMNS: list[_Column] = [
    ("task", lambda t: short_arn(t.task_arn)),
    ("cluster", lambda t: short_arn(t.cluster_arn)),
    ("definition", lambda t: short_arn(t.task_definition_arn)),
    ("status", lambda t: t.last_status or ""),
    ("desired", lambda t: t.desired_status or ""),
    ("launch", lambda t: t.launch_type or ""),
    ("group", lambda t: t.group or ""),
    ("created (UTC)", lambda t: f"{t.created_at:%Y-%m-%d %H:%M:%S}" if t.created_at else ""),
    ("age", lambda t: age(datetime.now(_UTC) - t.created_at) if t.created_at else ""),
]
# On a terminal too narrow for every default column, these go first, in this order.
DROP_FIRST = ("launch", "desired", "created (UTC)", "cluster", "group", "age")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return human_time(value)
    if isinstance(value, (list, dict)) or hasattr(value, "__attrs_attrs__"):
        return json.dumps(plain(value), separators=(",", ":"))
    return str(value)


def _member(attr: str) -> Callable[[models.Task], str]:
    def render(task: models.Task) -> str:
        return _cell(getattr(task, attr))

    return render


class TableWriter:
    """Collects rows and draws the table at the end (a table needs every row's width)."""

    def __init__(
        self, out: TextIO, fields: Sequence[str] | None, wire: bool, title: str = "tasks"
    ) -> None:
        self._out = out
        self._title = title
        self._columns = DEFAULT_COLUMNS
        if fields is not None:
            self._columns = [(member_key(attr, wire), _member(attr)) for attr in fields]
        self._rows: list[list[str]] = []

    def _fitting(self, names: list[str], width: int) -> list[str]:
        """The default columns minus the least useful ones until the rows fit `width`."""
        natural = {
            name: max([len(name), *(len(row[i]) for row in self._rows)])
            for i, name in enumerate(names)
        }
        keep = list(names)
        for name in DROP_FIRST:
            if sum(natural[n] + 3 for n in keep) + 1 <= width:
                break
            keep.remove(name)
        return keep

    def write(self, task: models.Task) -> None:
        self._rows.append([render(task) for _, render in self._columns])

    def close(self) -> None:
        from rich.console import Console
        from rich.table import Table

        # Off a terminal, rich would fold the table to 80 columns; let it take its own width.
        width = None if isatty(self._out) else 100_000
        console = Console(file=self._out, width=width, highlight=False)
        names = [name for name, _ in self._columns]
        keep = self._fitting(names, console.width) if self._columns is DEFAULT_COLUMNS else names
        table = Table()
        for name in keep:
            # If it is still too wide, long values fold onto more lines rather than being cut.
            table.add_column(name, overflow="fold")
        wanted = [names.index(name) for name in keep]
        for row in self._rows:
            table.add_row(*(row[i] for i in wanted))
        count = len(self._rows)
        title = self._title.replace("tasks", "task", 1) if count == 1 else self._title
        console.print(f"{count:,} {title}")  # not a rich title: that is padded to table width
        console.print(table)
        self._out.flush()
