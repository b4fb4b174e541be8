"""Scale-in protection for the task this code runs in, held while a block runs.

`async with protect_task(expires_in=...)` asks the ECS agent (`PUT
$ECS_AGENT_URI/task-protection/v1/state`) to protect the task, renews that in the background
before it lapses, and releases it when the block ends however it ends. `expires_in` is what
protection outlives a worker that dies without releasing it: keep it short, renewal covers
long blocks. See
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-scale-in-protection-endpoint.html
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

import attrs

from ._agent import AGENT_VARIABLE, DEFAULT_TIMEOUT, AgentConnection, endpoint, refusal
from ._exceptions import AgentError, ValidationError
from ._task_metadata import parse_time

__all__ = ["TaskProtection", "TaskProtectionState", "protect_task"]

logger = logging.getLogger("aioecs.protection")

# ECS's bounds for ExpiresInMinutes (UpdateTaskProtection): one minute to 48 hours.
_MAX_MINUTES = 2880
# After a failed renewal, try again this soon (or at the renewal period, if that is shorter).
_RETRY_RENEWAL_SECONDS = 5.0
# Releases still in flight after their block was cancelled, kept alive until they finish.
_releasing: set[asyncio.Task[None]] = set()


@attrs.frozen(kw_only=True)
class TaskProtectionState:
    """The agent's answer: whether the task is protected, and until when (UTC)."""

    task_arn: str | None
    protection_enabled: bool
    expiration_date: datetime | None


def protect_task(
    *,
    expires_in: timedelta,
    renew_every: timedelta | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> TaskProtection:
    """Protect this task from scale-in while an `async with` block runs.

    `expires_in` (whole minutes, rounded up; 1 minute to 48 hours) is how long each grant
    lasts; it is renewed every `renew_every` (default: half of it) while the block runs and
    released on exit, on an exception and on cancellation. `timeout` bounds each call to the
    agent, retries included. Entering raises `aioecs.errors.ConfigError` outside a task
    (`ECS_AGENT_URI` unset) and `aioecs.errors.AgentError` if the agent refuses or does not
    answer; a failed renewal or release is logged (the grant lapses by itself) and kept in
    `TaskProtection.last_error`.
    """
    minutes = math.ceil(expires_in.total_seconds() / 60)
    if not 1 <= minutes <= _MAX_MINUTES:
        raise ValidationError(
            "protect_task", [("expires_in", f"must be 1 minute to 48 hours, not {expires_in}")]
        )
    period = (renew_every or timedelta(minutes=minutes) / 2).total_seconds()
    if not 0 < period < minutes * 60:
        raise ValidationError(
            "protect_task",
            [("renew_every", f"must be positive and shorter than {minutes} minutes")],
        )
    return TaskProtection(minutes, period, timeout)


class TaskProtection:
    """What `protect_task()` returns: an async context manager. While the block runs,
    `state` is the agent's last answer and `renewals` counts the renewals made."""

    def __init__(self, minutes: int, period: float, timeout: float) -> None:
        self.expires_in_minutes = minutes
        self.renew_every = period
        self.timeout = timeout
        self.state: TaskProtectionState | None = None
        self.renewals = 0
        self.last_error: AgentError | None = None
        self._agent: AgentConnection | None = None
        self._renewal: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._url = ""

    def __repr__(self) -> str:
        return f"TaskProtection(expires_in_minutes={self.expires_in_minutes}, state={self.state})"

    async def __aenter__(self) -> TaskProtection:
        if self._agent is not None:
            raise RuntimeError("this protect_task() block is already running")
        self._url = endpoint(AGENT_VARIABLE) + "/task-protection/v1/state"
        agent = AgentConnection(self.timeout)
        try:
            self.state = await self._put(agent, True)
        except AgentError:
            await agent.close()
            raise
        except BaseException:
            # Cancelled mid-request: the agent may have granted it, so take it back.
            self._start_release(agent)
            raise
        self._agent = agent
        self._stop = stop = asyncio.Event()
        self._renewal = asyncio.create_task(self._renew(agent, stop))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        agent, renewal = self._agent, self._renewal
        self._agent = self._renewal = None
        assert agent is not None and renewal is not None, "__aexit__ without __aenter__"
        # The flag as well as the cancellation: asyncio.wait_for (before Python 3.12) can
        # swallow a cancellation that arrives as its answer does.
        self._stop.set()
        renewal.cancel()
        await asyncio.shield(self._start_release(agent, renewal))

    def _start_release(
        self, agent: AgentConnection, renewal: asyncio.Task[None] | None = None
    ) -> asyncio.Task[None]:
        # Released even if this task is being cancelled: the release runs as a task of its
        # own, shielded, so a second cancellation leaves it finishing (within `timeout`).
        release = asyncio.create_task(self._release(agent, renewal))
        _releasing.add(release)
        release.add_done_callback(_releasing.discard)
        return release

    async def _renew(self, agent: AgentConnection, stop: asyncio.Event) -> None:
        delay = self.renew_every
        while not stop.is_set():
            await asyncio.sleep(delay)
            if stop.is_set():
                return
            try:
                self.state = await self._put(agent, True)
            except AgentError as exc:
                self.last_error = exc
                delay = min(self.renew_every, _RETRY_RENEWAL_SECONDS)
                logger.warning("renewing task scale-in protection failed: %s", exc)
            else:
                self.renewals += 1
                self.last_error = None
                delay = self.renew_every

    async def _release(self, agent: AgentConnection, renewal: asyncio.Task[None] | None) -> None:
        try:
            if renewal is not None:  # no renewal may follow the release
                await asyncio.gather(renewal, return_exceptions=True)
            self.state = await self._put(agent, False)
        except AgentError as exc:
            self.last_error = exc
            logger.warning(
                "releasing task scale-in protection failed (it lapses by itself within "
                "%d minutes): %s",
                self.expires_in_minutes,
                exc,
            )
        finally:
            await agent.close()

    async def _put(self, agent: AgentConnection, enabled: bool) -> TaskProtectionState:
        what = "task scale-in protection" if enabled else "releasing task scale-in protection"
        body: dict[str, Any] = {"ProtectionEnabled": enabled}
        if enabled:
            body["ExpiresInMinutes"] = self.expires_in_minutes
        return protection_state(what, await agent.call(what, "PUT", self._url, body))


def protection_state(what: str, document: object) -> TaskProtectionState:
    """The agent's `{"protection": {...}}` answer, or its `failure`/`error` as `AgentError`
    (the agent reports ECS's refusals with HTTP 200 as well)."""
    found = document.get("protection") if isinstance(document, dict) else None
    if not isinstance(found, dict):
        if isinstance(document, dict) and ("failure" in document or "error" in document):
            raise refusal(what, 200, document)
        raise AgentError(f"{what}: the ECS agent's answer has no protection", code="ResponseError")
    arn = found.get("TaskArn")
    expiry = found.get("ExpirationDate")
    return TaskProtectionState(
        task_arn=arn if isinstance(arn, str) else None,
        protection_enabled=found.get("ProtectionEnabled") is True,
        expiration_date=parse_time(expiry) if isinstance(expiry, str) else None,
    )
