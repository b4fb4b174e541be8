"""The deadline of a wait with a timeout: it bounds each poll and each pause between polls.

Every wait in aioecs (the generated waiters, `Job.wait`, `Rollout.wait`) polls, pauses and
polls again until its deadline. Two rules make the deadline hard and still useful:

- A poll is cut at the deadline (`Expired`): waits only read, so a poll that ECS throttles or
  a connection that hangs is abandoned rather than waited for. `Expired` is not a
  `TimeoutError`, which a call's own `total_timeout` raises (`DeadlineExceeded`): that one is
  the poll's error, for the wait to report as such.
- The pause before the last poll ends early enough for that poll to land (twice the time the
  previous poll took, plus `SLACK` for the event loop's own lateness): a pause running to the
  deadline would leave the poll after it no time at all, and a service stable one second into
  a ten-second wait would time out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

SLACK = 0.05  # seconds: how late a busy event loop may wake a sleeper or run a callback


class Expired(Exception):
    """The wait's deadline came before the poll's answer."""


class WaitDeadline:
    """`timeout` seconds from now (None: no deadline). Not a call's deadline
    (`aioecs._pipeline.Deadline`): a wait makes many calls, and ends at this one."""

    __slots__ = ("_at", "_took")

    def __init__(self, timeout: float | None) -> None:
        self._at = None if timeout is None else time.monotonic() + timeout
        self._took = 0.0  # how long the last poll took

    async def bound(self, poll: Awaitable[T]) -> T:
        """`poll`'s result; `Expired` if the deadline comes first."""
        started = time.monotonic()
        if self._at is None:
            result = await poll
        else:
            try:
                result = await asyncio.wait_for(poll, max(self._at - started, 0.0))
            except asyncio.TimeoutError:
                if time.monotonic() < self._at:
                    raise  # the poll's own (DeadlineExceeded), before the wait's
                raise Expired() from None
        self._took = time.monotonic() - started
        return result

    def pause(self, interval: float) -> float | None:
        """How long to sleep before the next poll; None once the deadline has passed."""
        if self._at is None:
            return interval
        remaining = self._at - time.monotonic()
        if remaining <= 0:
            return None
        return max(min(interval, remaining - 2 * self._took - SLACK), 0.0)
