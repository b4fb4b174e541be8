"""Hooks: what a program learns about each call and attempt, for logs, metrics and traces.

A hook is any object with `on_attempt(event)` and `on_call(event)` methods, given to
`ECSClient(hooks=[...])`. The pipeline calls them in line, after each attempt and once per
call, so they must be quick and must not raise (an exception from a hook is logged and
dropped: observing never breaks a call). With no hook nothing is built or timed beyond the
clock reads the pipeline makes anyway. `aioecs.telemetry.OpenTelemetryHook` turns the events
into OpenTelemetry spans and metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import attrs

__all__ = ["AttemptEvent", "CallEvent", "Hook", "notify_attempt", "notify_call"]

_log = logging.getLogger("aioecs")


@attrs.frozen
class AttemptEvent:
    """One HTTP exchange of a call (`attempt` counts from 1, throttled retries included).

    `status` is None when no answer came (`error_code` then says why: `ConnectError`,
    `Timeout`, `ConnectionLost`); `retry_delay` is how long the pipeline waits before the
    next attempt (None: no next attempt). `duration` and `paced` are seconds: the exchange
    itself, and the wait for the throttling category's pacer before it.
    """

    operation: str
    attempt: int
    duration: float
    paced: float
    status: int | None
    request_id: str | None
    error_code: str | None
    throttled: bool
    retry_delay: float | None


@attrs.frozen
class CallEvent:
    """One call, from its first attempt to its result: `error_code` None means success.

    `started` is the wall clock (`time.time()`) when the call began, for tracing backends
    that want absolute times; `duration` covers pacing, every attempt and every backoff.
    """

    operation: str
    started: float
    duration: float
    attempts: int
    status: int | None
    request_id: str | None
    error_code: str | None
    throttled: int
    region: str
    service: str = "ECS"


@runtime_checkable
class Hook(Protocol):
    def on_attempt(self, event: AttemptEvent) -> None: ...

    def on_call(self, event: CallEvent) -> None: ...


def notify_attempt(hooks: Sequence[Hook], event: AttemptEvent) -> None:
    for hook in hooks:
        try:
            hook.on_attempt(event)
        except Exception:
            _log.exception("aioecs hook %r failed on an attempt event", hook)


def notify_call(hooks: Sequence[Hook], event: CallEvent) -> None:
    for hook in hooks:
        try:
            hook.on_call(event)
        except Exception:
            _log.exception("aioecs hook %r failed on a call event", hook)
