"""A spinner with the elapsed time on stderr while something is awaited (terminals only)."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .output import isatty


@asynccontextmanager
async def spinner(label: str) -> AsyncIterator[None]:
    """Shows `⠋ label (12 s)` until the block ends; does nothing when stderr is not a tty."""
    if not isatty(sys.stderr):
        yield
        return
    from rich.console import Console

    console = Console(stderr=True)
    started = time.monotonic()
    with console.status(label) as status:

        async def tick() -> None:
            while True:
                await asyncio.sleep(1)
                status.update(f"{label} ({time.monotonic() - started:.0f} s)")

        ticker = asyncio.ensure_future(tick())
        try:
            yield
        finally:
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
