"""`watch_tasks(state_file=...)`: the watch's state on disk, at a cost per change that does not
grow with the fleet.

Saving a whole snapshot after each change costs the fleet's size each time (quadratic over a
first sweep). The file is instead a journal: a header, one compact line per live task, then
one line per change handed out (a task's new state, or its removal), appended in one write per
DescribeTasks answer's worth of changes. Once the journal holds more dead lines than live ones,
the end of a sweep compacts it: the whole state written to a temporary file, flushed to disk
and renamed over the old one (`os.replace` is atomic), so a crash at any moment leaves either
the old file or the new one. A line cut short by a crash is ignored on loading: the change it
held is reported again, never lost.

A line keeps only what a resume needs: the task's identity, its status members and its
`version` (which ECS increments on every change), so 5,000 tasks take about 1.7 MB instead of
the 8 MB of their full descriptions.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from . import models

STATE_FORMAT = "aioecs.watch_tasks.state/1"
# What is kept of a live task: its last description, the cluster it is described in, and the
# sweep that described it.
Entry = tuple["models.Task", str, int]
# Task members kept per task (snake_case name, wire name): enough to resume, to say what a
# task was when it stops or vanishes, and to tell by `version` whether it changed meanwhile.
KEPT = (
    ("task_arn", "taskArn"),
    ("cluster_arn", "clusterArn"),
    ("task_definition_arn", "taskDefinitionArn"),
    ("last_status", "lastStatus"),
    ("desired_status", "desiredStatus"),
    ("health_status", "healthStatus"),
    ("version", "version"),
)
KEPT_NAMES = tuple(name for name, _ in KEPT)
# Journal lines written together: at most one write per this many changes.
_BATCH = 100
# Compaction once the file holds more than twice the live tasks' lines, plus this many.
_SLACK = 1000


@dataclass
class Loaded:
    """What a state file holds: the sweep reached, and per live task (task, cluster, sweep it
    was last described in), oldest description first."""

    sweep: int = 0
    tasks: dict[str, Entry] = field(default_factory=dict)
    reported: set[str] = field(default_factory=set)


def compact(task: models.Task) -> dict[str, Any]:
    return {wire: value for name, wire in KEPT if (value := getattr(task, name)) is not None}


def restored(data: dict[str, Any]) -> models.Task:
    from . import models

    kwargs = {name: data[wire] for name, wire in KEPT if wire in data}
    return models.Task(**kwargs)


def _task_line(task: models.Task, cluster: str, described: int) -> str:
    record: dict[str, Any] = {"t": compact(task), "d": described}
    if cluster != task.cluster_arn:
        record["c"] = cluster
    return json.dumps(record, separators=(",", ":")) + "\n"


class StateFile:
    """One watch's state file: loaded once, then appended to and compacted as it runs."""

    def __init__(self, path: str | os.PathLike[str], selection: dict[str, Any]) -> None:
        self.path = Path(path)
        self._selection = selection
        self._out: TextIO | None = None
        self._pending: list[str] = []
        self._lines = 0  # task lines in the file (live or dead)
        self._unsynced = False
        self.writes = 0
        self.bytes = 0

    def load(self) -> Loaded | None:
        """The state the file holds, or None if there is no file yet."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        lines = text.split("\n")
        header = _parsed(lines[0]) if lines else None
        self._check(header)
        assert header is not None
        loaded = Loaded(sweep=int(header.get("sweep", 0)), reported=set(header.get("reported", ())))
        for record in filter(None, map(_parsed, lines[1:])):
            _replay(record, loaded)
        return loaded

    def _check(self, header: dict[str, Any] | None) -> None:
        from .errors import ConfigError

        if header is None or header.get("format") != STATE_FORMAT:
            raise ConfigError(
                f"{self.path} is not a watch_tasks state file (format {STATE_FORMAT!r})"
            )
        if header.get("selection") != self._selection:
            raise ConfigError(
                f"{self.path} was made for other clusters, filters or include: "
                f"{header.get('selection')!r}; this watch is {self._selection!r} (use "
                "another file, or delete it to start afresh)"
            )

    def record(self, arn: str, entry: Entry | None) -> None:
        """One change handed out: the task's state after it, or None when it left."""
        line = json.dumps({"x": arn}) + "\n" if entry is None else _task_line(*entry)
        self._pending.append(line)
        self._lines += 1
        if len(self._pending) >= _BATCH:
            self.flush()

    def flush(self, sync: bool = False) -> None:
        """Write the changes recorded so far (one write); `sync` also asks the disk."""
        if self._pending:
            out = self._journal()
            data = "".join(self._pending)
            self._pending.clear()
            out.write(data)
            out.flush()
            self.writes += 1
            self.bytes += len(data.encode())
            self._unsynced = True
        if sync and self._unsynced and self._out is not None:
            os.fsync(self._out.fileno())
            self._unsynced = False

    def end_sweep(self, sweep: int, live: Iterable[Entry], count: int, reported: set[str]) -> None:
        """At the end of a sweep: the journal on disk, compacted if it has grown too long."""
        if self._lines > 2 * count + _SLACK:
            self.rewrite(sweep, live, reported)
        else:
            self.flush(sync=True)

    def rewrite(self, sweep: int, live: Iterable[Entry], reported: set[str]) -> None:
        """The whole state in a new file, atomically replacing the old one."""
        self._pending.clear()  # every change so far is in `live`
        self.close()
        header = {
            "format": STATE_FORMAT,
            "selection": self._selection,
            "sweep": sweep,
            "reported": sorted(reported),
        }
        parts = [json.dumps(header, separators=(",", ":")) + "\n"]
        parts.extend(_task_line(*entry) for entry in live)
        data = "".join(parts)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        self._lines = len(parts) - 1
        self.writes += 1
        self.bytes += len(data.encode())

    def _journal(self) -> TextIO:
        if self._out is None:
            self._out = self.path.open("a", encoding="utf-8")
        return self._out

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def _parsed(line: str) -> dict[str, Any] | None:
    """One line's record; None for an empty line or one cut short by a crash."""
    try:
        record = json.loads(line) if line else None
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _replay(record: dict[str, Any], loaded: Loaded) -> None:
    gone = record.get("x")
    if isinstance(gone, str):
        loaded.tasks.pop(gone, None)
        loaded.reported.add(gone)
        return
    task = restored(record.get("t") or {})
    if task.task_arn is None:
        return
    loaded.tasks.pop(task.task_arn, None)  # to the end: the most recently described
    cluster = record.get("c") or task.cluster_arn or ""
    described = int(record.get("d", 0))
    loaded.tasks[task.task_arn] = (task, cluster, described)
    loaded.sweep = max(loaded.sweep, described + 1)
