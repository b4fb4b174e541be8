"""One emulator process's life: start, announce, serve until told to stop, close.

The one launcher behind ``python -m aioecs.testing``, the ``aioecs demo`` child and the
benchmarks' server process. A parent knows the server is ready when it has read the one line
:func:`serve` prints (JSON: endpoint, region, credentials, plus whatever the caller adds). The
server stops on SIGINT or SIGTERM, and, for a child whose parent holds its stdin, when stdin
closes - which is also what happens when the parent dies. Such a parent may send commands on
stdin, one a line, each answered with one JSON line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Literal

from ._server import LocalECS

Command = Callable[[str], object]
"""A stdin line -> the JSON-able answer printed for it (None: no answer)."""


def ready_line(
    local: LocalECS,
    extra: Mapping[str, object] | None = None,
    line_format: Literal["json", "env"] = "json",
) -> str:
    """What a started server announces: ``Endpoint.to_json()``'s fields plus ``extra``, or
    with ``line_format="env"`` the ``NAME=value`` pairs of ``Endpoint.env()``."""
    endpoint = local.endpoint
    if line_format == "env":
        if extra:
            raise ValueError("only the JSON ready line carries extra fields")
        return " ".join(f"{name}={value}" for name, value in endpoint.env().items())
    return json.dumps({**json.loads(endpoint.to_json()), **(extra or {})})


async def serve(
    local: LocalECS,
    *,
    extra: Mapping[str, object] | None = None,
    line_format: Literal["json", "env"] = "json",
    until_stdin_closes: bool = False,
    command: Command | None = None,
) -> int:
    """Start ``local``, print its :func:`ready_line`, serve, close; the exit status.

    1 if it cannot listen (said on stderr), else 0 once stopped: by SIGINT/SIGTERM, or if
    ``until_stdin_closes`` (implied by ``command``) when stdin reaches its end. ``command``
    answers each stdin line.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Not on Windows: there Ctrl+C arrives as a KeyboardInterrupt, for the caller.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await local.start()
    except OSError as e:
        where = f"{local._host}:{local._port}"  # as asked for: it never listened
        print(f"LocalECS: cannot listen on {where}: {e}", file=sys.stderr)
        return 1
    try:
        print(ready_line(local, extra, line_format), flush=True)
        if command is None and not until_stdin_closes:
            await stop.wait()
        else:
            await _follow_stdin(stop, command)
    finally:
        await local.close()
    return 0


async def _follow_stdin(stop: asyncio.Event, command: Command | None) -> None:
    """Answer stdin's lines with ``command`` until its end (or ``stop``)."""
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)

    # A daemon thread, not the loop's executor: a read blocked on a stdin that never closes
    # must not keep the process alive after a signal stopped the server.
    threading.Thread(target=read, name="LocalECS stdin", daemon=True).start()
    stopped = asyncio.ensure_future(stop.wait())
    try:
        while True:
            got = asyncio.ensure_future(lines.get())
            await asyncio.wait((got, stopped), return_when=asyncio.FIRST_COMPLETED)
            if not got.done():
                got.cancel()
                return
            line = got.result()
            if line is None:
                return
            if command is not None:
                answer = command(line)
                if answer is not None:
                    print(json.dumps(answer), flush=True)
    finally:
        stopped.cancel()
