"""`aioecs watch`: one line per task change as it happens, and a demo of it on LocalECS.

`jsonl` is for a file or a log pipeline (one object per change, flushed at once); `table` is
one aligned text line per change for people (a rich table would need every row before it can
be drawn). A stopped task shows its stop code, reason and each container's exit code in both.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timezone
from typing import Any, Literal, TextIO

from .. import models
from .._watch import TaskChange, TaskWatch
from .output import isatty, iso, member_key, plain
from .table import short_arn

WatchFormat = Literal["jsonl", "table"]
_UTC = timezone.utc
# How often the status line is redrawn while sweeps find nothing.
_STATUS_EVERY = 0.5


def exit_codes(task: models.Task) -> dict[str, int | None]:
    """Container name -> exit code, as ECS reports it (None while it has none)."""
    return {c.name or c.container_arn or "?": c.exit_code for c in task.containers}


def change_record(
    change: TaskChange, fields: Sequence[str] | None = None, wire: bool = False
) -> dict[str, Any]:
    """A change as JSON-ready data: what changed, then the task's members that matter."""
    task = change.task
    out: dict[str, Any] = {"at": iso(datetime.now(_UTC)), "kind": change.kind}
    if change.changed:
        out["changed"] = [member_key(name, wire) for name in change.changed]
    if change.failure is not None:
        out["failure"] = plain(change.failure, wire=wire)
    if fields is not None:
        out.update({member_key(a, wire): plain(getattr(task, a), wire=wire) for a in fields})
        return out
    for attr in ("task_arn", "cluster_arn", "task_definition_arn", "last_status",
                 "desired_status", "health_status", "group"):  # fmt: skip
        value = getattr(task, attr)
        if value is not None:
            out[member_key(attr, wire)] = plain(value, wire=wire)
    if change.kind == "stopped" or task.last_status == "STOPPED":
        for attr in ("stop_code", "stopped_reason", "stopped_at"):
            value = getattr(task, attr)
            if value is not None:
                out[member_key(attr, wire)] = plain(value, wire=wire)
        out["exit_codes"] = exit_codes(task)
    return out


def change_line(change: TaskChange) -> str:
    """`12:00:03  stopped   0a1b2c3d  web:3  STOPPED  EssentialContainerExited: ...  exit app=1`."""
    task = change.task
    parts = [
        f"{datetime.now(_UTC):%H:%M:%S}",
        f"{change.kind:<8}",
        short_arn(task.task_arn),
        short_arn(task.task_definition_arn),
        task.last_status or "?",
    ]
    if change.kind in ("changed", "stopping") and change.changed:
        shown = [n for n in change.changed if n != "version"] or list(change.changed)
        parts.append("(" + ", ".join(shown) + ")")
    if change.kind == "stopped":
        reason = ": ".join(str(p) for p in (task.stop_code, task.stopped_reason) if p)
        if reason:
            parts.append(reason)
        codes = " ".join(f"{name}={code}" for name, code in exit_codes(task).items())
        if codes:
            parts.append(f"exit {codes}")
    if change.failure is not None:
        parts.append(f"({change.failure.reason})")
    return "  ".join(parts)


class ChangeWriter:
    def __init__(
        self, fmt: WatchFormat, out: TextIO, fields: Sequence[str] | None, wire: bool
    ) -> None:
        self._fmt, self._out, self._fields, self._wire = fmt, out, fields, wire

    def write(self, change: TaskChange) -> None:
        if self._fmt == "jsonl":
            record = change_record(change, self._fields, self._wire)
            line = json.dumps(record, separators=(",", ":"))
        else:
            line = change_line(change)
        self._out.write(line + "\n")
        self._out.flush()


class StatusLine:
    """`250 tasks known  12 sweeps  3 requests/sweep  0 throttled` on stderr, terminal only."""

    def __init__(self, watch: TaskWatch, stream: TextIO | None = None) -> None:
        self._watch = watch
        self._stream = stream if stream is not None else sys.stderr
        self.enabled = isatty(self._stream)

    def text(self) -> str:
        stats = self._watch.stats
        failed = f"  {stats.failed_sweeps} failed" if stats.failed_sweeps else ""
        return (
            f"{self._watch.known_count:,} tasks known  {stats.sweeps:,} sweeps{failed}  "
            f"{stats.last_sweep_requests:,} requests/sweep  "
            f"{self._watch.counts.throttled:,} throttled"
        )

    def draw(self) -> None:
        if self.enabled:
            self._stream.write(f"\r\x1b[2K{self.text()}")
            self._stream.flush()

    def clear(self) -> None:
        if self.enabled:
            self._stream.write("\r\x1b[2K")
            self._stream.flush()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Redraw the line every half second while the body runs (sweeps that find nothing
        print nothing else)."""

        async def redraw() -> None:
            while True:
                self.draw()
                await asyncio.sleep(_STATUS_EVERY)

        drawer = asyncio.ensure_future(redraw()) if self.enabled else None
        try:
            yield
        finally:
            if drawer is not None:
                drawer.cancel()
                await asyncio.gather(drawer, return_exceptions=True)
            self.clear()


async def follow(watch: TaskWatch, writer: ChangeWriter, status: StatusLine) -> None:
    """Print every change until the watch fails or the command is interrupted.

    Ctrl-C (SIGINT) cancels only this, so the watch's requests are cancelled and its
    connections closed before the command exits 0: stopping a watch is how it ends.
    """
    loop = asyncio.get_running_loop()
    me = asyncio.current_task()
    assert me is not None
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        me.cancel()

    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows loops
        loop.add_signal_handler(signal.SIGINT, interrupt)
    try:
        async with status.running(), watch:
            async for change in watch:
                status.clear()
                writer.write(change)
                status.draw()
    except asyncio.CancelledError:
        if not interrupted:
            raise
    finally:
        with contextlib.suppress(NotImplementedError):
            loop.remove_signal_handler(signal.SIGINT)


async def watch_demo(console: Any, *, tasks: int = 6, interval: float = 0.3) -> list[TaskChange]:
    """A short watch on its own LocalECS while tasks start, stop and fail: for `aioecs demo`.

    Prints one line per change on `console` (a rich Console) and returns the changes. Runs on
    the caller's event loop, with its own emulator and a fake clock, in about three seconds.
    """
    from .._credentials import Credentials
    from ..client import ECSClient
    from ..testing import LocalECS

    now = [1_700_000_000.0]
    async with LocalECS(clock=lambda: now[0], pending_seconds=5, stop_seconds=5) as local:
        fleet = local.seed_tasks(tasks, cluster="watch-demo", family="web", service_name="web")
        key, secret = local.credentials
        credentials = Credentials(access_key_id=key, secret_access_key=secret)
        changes: list[TaskChange] = []
        async with ECSClient(
            region=local.region, endpoint_url=local.endpoint_url, credentials=credentials
        ) as ecs:
            watch = ecs.watch_tasks(cluster="watch-demo", interval=interval)
            console.print(
                f"Watching cluster [bold]watch-demo[/bold] ({tasks} tasks) every {interval:g} s "
                "while tasks start, stop and fail:"
            )

            async def consume() -> None:
                async with watch:
                    async for change in watch:
                        changes.append(change)
                        console.print("  " + change_line(change), highlight=False, soft_wrap=True)

            async def sweeps(count: int) -> None:
                target = watch.stats.sweeps + count
                while watch.stats.sweeps < target and not consumer.done():
                    await asyncio.sleep(interval / 4)

            consumer = asyncio.ensure_future(consume())
            try:
                await sweeps(1)
                local.seed_tasks(2, cluster="watch-demo", family="web", last_status="PENDING")
                await sweeps(2)
                local.stop_task(fleet[0], reason="Scaling activity initiated")
                local.set_task_status(
                    fleet[1], "STOPPED", exit_code=137, reason="OutOfMemoryError: Container killed"
                )
                await sweeps(2)
                now[0] += 10  # the new tasks start and the stop completes
                await sweeps(2)
            finally:
                consumer.cancel()
                await asyncio.gather(consumer, return_exceptions=True)
            stats = watch.stats
            console.print(
                f"{stats.sweeps} sweeps, {stats.requests} requests "
                f"({local.request_count['ListTasks']} ListTasks, "
                f"{local.request_count['DescribeTasks']} DescribeTasks)"
            )
    return changes
