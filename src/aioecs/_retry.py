"""Retries: `RetryStrategy`, the one object that decides whether and when a failed attempt is
tried again, with the pacing each attempt waits for, and how much retrying a client may do.

Semantics follow botocore's `standard` and `adaptive` modes: at most `max_attempts` attempts,
exponential backoff with full jitter (capped at 20 s, `x-amz-retry-after` honoured), and a
retry quota (a 500-token bucket; a retry costs 5, or 10 after a timeout; a success gives back
what its retry cost, or 1) so that an outage turns into fast failures instead of a retry
storm. `adaptive` adds botocore's client-side rate limiter (CUBIC). Throttling is mostly the
pacers' business (`_limits`): the client paces each throttling category to ECS's quota, and a
throttled read-only call is retried beyond `max_attempts` without spending this quota.

What may be retried depends on the operation, because a few ECS operations create something
new each time they are processed (each operation's descriptor says whether it is
`safe_to_repeat`, from `codegen/customizations.py`):

- every operation retries failures that prove the request was *not* processed: throttling
  (the service rejects before processing), a connection that could not be opened, and
  clock-skew rejections once the skew is corrected;
- all other operations (reads, writes that set a state, calls with an idempotency token that
  aioecs fills in) also retry failures after which the request *may* have been processed:
  5xx answers, timeouts, connections reset after the request was sent, truncated or garbled
  response bodies.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable
from typing import Literal

from . import _limits
from ._exceptions import (
    CLOCK_SKEW_CODES,
    THROTTLING_CODES,
    TRANSIENT_CODES,
    TRANSIENT_STATUS,
    CallError,
    TransportError,
)

__all__ = [
    "CLOCK_SKEW_CODES",
    "THROTTLING_CODES",
    "TRANSIENT_CODES",
    "TRANSIENT_STATUS",
    "RateLimiter",
    "RequestCounts",
    "RetryQuota",
    "RetryStrategy",
    "RetryToken",
    "classify",
]

RetryMode = Literal["standard", "adaptive"]

MAX_BACKOFF = 20.0
RETRY_AFTER_MAX_EXTRA = 5.0
QUOTA_CAPACITY = 500
RETRY_COST = 5
TIMEOUT_RETRY_COST = 10
NO_RETRY_INCREMENT = 1

Kind = Literal["throttling", "not_sent", "transient", "maybe_processed"]


def classify(error: CallError) -> Kind | None:
    """Why a failed attempt failed, as far as retrying is concerned; None: do not retry.

    Read from the facts the error was given when it was made (`CallError.throttling`, ...)."""
    if error.throttling:
        return "throttling"
    if isinstance(error, TransportError):
        return "maybe_processed" if error.sent else "not_sent"
    if error.transient:
        return "transient"
    if error.maybe_processed:  # processed, then the answer was lost on the way
        return "maybe_processed"
    return None


class RequestCounts:
    """What the requests of one job cost: attempts sent, answered throttled, and retried.

    A fan-out hands one to every call it makes (`TaskStream.counts`), so a caller can see
    how close to the account's quota its job ran.
    """

    __slots__ = ("retried", "sent", "throttled")

    def __init__(self) -> None:
        self.sent = 0
        self.throttled = 0
        self.retried = 0

    def add(self, other: RequestCounts) -> None:
        """Count `other`'s requests too (several streams of one job)."""
        self.sent += other.sent
        self.throttled += other.throttled
        self.retried += other.retried

    def __repr__(self) -> str:
        sent, throttled, retried = self.sent, self.throttled, self.retried
        return f"RequestCounts({sent=}, {throttled=}, {retried=})"


class RetryQuota:
    """The client-wide budget for retries (botocore's retry quota)."""

    def __init__(self, capacity: int = QUOTA_CAPACITY) -> None:
        self.capacity = capacity
        self.available = capacity

    def acquire(self, amount: int) -> bool:
        if amount > self.available:
            return False
        self.available -= amount
        return True

    def release(self, amount: int) -> None:
        self.available = min(self.capacity, self.available + amount)


class RetryToken:
    """One call's retry state, from its first attempt to its last (smithy-python's token).

    `attempts` counts every attempt sent, `free` those retried without counting against
    `max_attempts` (throttled reads, paced by their bucket); `delay` is the pause before the
    next attempt, `cost` what the last retry took from the quota, `pacer` and `sent_at` the
    bucket the last attempt drew from and when it was due, `paced` how long it waited.
    """

    __slots__ = (
        "attempts",
        "cost",
        "counts",
        "delay",
        "free",
        "operation",
        "paced",
        "pacer",
        "readonly",
        "safe_to_repeat",
        "sent_at",
        "started",
    )

    def __init__(
        self,
        operation: str,
        *,
        safe_to_repeat: bool,
        readonly: bool,
        counts: RequestCounts,
        started: float,
    ) -> None:
        self.operation = operation
        self.safe_to_repeat = safe_to_repeat
        self.readonly = readonly
        self.counts = counts
        self.started = started
        self.attempts = 0
        self.free = 0
        self.delay = 0.0
        self.cost: int | None = None
        self.pacer: _limits.Pacer | None = None
        self.sent_at = started
        self.paced = 0.0

    def __repr__(self) -> str:
        return f"<RetryToken {self.operation} attempts={self.attempts} free={self.free}>"


class RetryStrategy:
    """Whether and when a failed attempt is tried again, and the pacing before each attempt.

    One per client: the retry quota and the adaptive rate are the client's. The request path
    asks it for a token when a call starts (`acquire_token`), lets it pace each attempt
    (`pace`), hands it each failure (`refresh_token`: try again, or give up) and the success
    (`record_success`). Pass one to `ECSClient(retry_strategy=...)` to set the mode and the
    attempts in code, or to control jitter (`rand`, returning a number in [0, 1): `lambda:
    0.0` retries at once) and the adaptive limiter's clock (`clock`). A mode or attempt count
    left None is the client's (`retry_mode`, `max_attempts`, `AWS_RETRY_MODE`, the profile;
    else standard, 3). Without one, the client makes its own.
    """

    def __init__(
        self,
        *,
        mode: RetryMode | None = None,
        max_attempts: int | None = None,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._given = (mode, max_attempts)
        self._rand = rand
        self._clock = clock
        self.quota = RetryQuota()
        self.settle("standard", 3)

    def given(self, mode: RetryMode | None, max_attempts: int | None) -> bool:
        """Whether this strategy was given a mode or an attempt count, as the client was."""
        return (mode is not None and self._given[0] is not None) or (
            max_attempts is not None and self._given[1] is not None
        )

    def settle(self, mode: RetryMode, max_attempts: int) -> None:
        """Take the client's mode and attempts (its arguments, `AWS_RETRY_MODE`, the profile,
        ...) for what this strategy was not given; the client calls it when it connects."""
        given_mode, given_attempts = self._given
        mode = given_mode or mode
        max_attempts = max_attempts if given_attempts is None else given_attempts
        check_retry_settings(mode, max_attempts)
        self.mode = mode
        self.max_attempts = max_attempts
        self.limiter = RateLimiter(self._clock) if mode == "adaptive" else None

    def __repr__(self) -> str:
        return f"RetryStrategy(mode={self.mode!r}, max_attempts={self.max_attempts})"

    def acquire_token(
        self,
        operation: str,
        *,
        safe_to_repeat: bool,
        readonly: bool,
        counts: RequestCounts | None = None,
    ) -> RetryToken:
        """A call starts. `safe_to_repeat`: whether it may be repeated after an attempt that
        may have been processed; `readonly`: whether a throttled attempt is retried beyond
        `max_attempts`, paced, without spending the quota."""
        counts = counts if counts is not None else RequestCounts()
        return RetryToken(
            operation,
            safe_to_repeat=safe_to_repeat,
            readonly=readonly,
            counts=counts,
            started=time.monotonic(),
        )

    async def pace(self, token: RetryToken, pacer: _limits.Pacer | None) -> None:
        """Wait for the next attempt's turn: a token from `pacer` (the bucket of the call's
        throttling category, None: unpaced), then from the adaptive limiter."""
        token.pacer = pacer
        token.sent_at, token.paced = time.monotonic(), 0.0
        reservation = None
        try:
            if pacer is not None:
                reservation = pacer.reserve()
                wait, token.sent_at = reservation
                if wait > 0:
                    token.paced = wait
                    await asyncio.sleep(wait)
            if self.limiter is not None:
                await self.limiter.acquire()
        except BaseException:
            if pacer is not None and reservation is not None:
                pacer.release(reservation)  # never sent: its token goes back
            raise
        token.attempts += 1
        token.counts.sent += 1

    def refresh_token(
        self,
        token: RetryToken,
        error: CallError,
        *,
        retry_after: float | None = None,
        skew_corrected: bool = False,
        deadline: float | None = None,
    ) -> bool:
        """After a failed attempt: True to try again after `token.delay` seconds.

        `retry_after` is the server's hint (seconds), `skew_corrected` whether the client has
        just adopted the server's clock after a skew error, `deadline` the call's
        (`time.monotonic()`): no retry starts after it.
        """
        self._observe(token, error)
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return False
        pacer = token.pacer
        if (
            error.throttling
            and pacer is not None
            and token.readonly
            and _persist(pacer, token, now)
        ):
            token.free += 1  # paced by the mirror of the bucket, which is empty now
            return self._again(token, 0.0)
        counted = token.attempts - token.free
        if error.clock_skew and skew_corrected:
            return counted < self.max_attempts and self._again(token, 0.0)
        cost = self.retry_cost(error, counted, token.safe_to_repeat)
        if cost is None:
            return False
        token.cost = cost
        return self._again(token, self.delay(counted, retry_after))

    def record_success(self, token: RetryToken) -> None:
        if token.pacer is not None:
            token.pacer.succeeded(token.sent_at)
        if self.limiter is not None:
            self.limiter.record(False)
        self.quota.release(token.cost if token.cost else NO_RETRY_INCREMENT)

    def retry_cost(self, error: CallError, attempt: int, safe_to_repeat: bool) -> int | None:
        """Tokens this retry takes from the quota, or None if it must not be retried."""
        kind = classify(error)
        if kind is None or attempt >= self.max_attempts:
            return None
        if kind in ("transient", "maybe_processed") and not safe_to_repeat:
            return None
        # botocore charges the timeout price only for ConnectTimeoutError and ReadTimeoutError
        # (retries/standard.py, RetryQuotaChecker); refused or reset connections cost 5.
        timeout = isinstance(error, TransportError) and error.code in ("Timeout", "ConnectTimeout")
        cost = TIMEOUT_RETRY_COST if timeout else RETRY_COST
        return cost if self.quota.acquire(cost) else None

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Full-jitter exponential backoff before attempt `attempt + 1`."""
        base = self._rand() * min(2.0 ** (attempt - 1), MAX_BACKOFF)
        if retry_after is not None and retry_after >= 0:
            return min(max(base, retry_after), base + RETRY_AFTER_MAX_EXTRA)
        return base

    def _observe(self, token: RetryToken, error: CallError) -> None:
        """Feed a failure to the pacing: the adaptive rate, and the bucket's mirror."""
        if self.limiter is not None:
            self.limiter.record(error.throttling)
        if error.throttling:
            token.counts.throttled += 1
            if token.pacer is not None:
                token.pacer.throttled(token.sent_at)

    def _again(self, token: RetryToken, delay: float) -> bool:
        token.delay = delay
        token.counts.retried += 1
        return True


def check_retry_settings(mode: str, max_attempts: int) -> None:
    """Refuse a retry mode or attempt count that cannot work (ValueError)."""
    if mode not in ("standard", "adaptive"):
        raise ValueError(f"retry mode must be 'standard' or 'adaptive', not {mode!r}")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")


def _persist(pacer: _limits.Pacer, token: RetryToken, now: float) -> bool:
    """Whether a throttled read-only call keeps trying: while ECS makes progress (its bucket
    let a request through in the last `STALLED` seconds, or the call is younger than that)."""
    return now - max(pacer.last_success, token.started) < _limits.STALLED


class RateLimiter:
    """botocore's adaptive client rate limiter: a token bucket whose rate follows CUBIC.

    Disabled until the first throttling answer, then every request takes a token first.
    """

    MIN_RATE = 0.5
    BETA = 0.7
    SCALE = 0.4
    SMOOTHING = 0.8
    BUCKET_SECONDS = 0.5
    MAX_RATE_ADJUST = 2.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.enabled = False
        self.rate = 0.0  # tokens per second once enabled
        self._capacity = 0.0
        self._tokens = 0.0
        self._last_refill: float | None = None
        self._lock = asyncio.Lock()
        # CUBIC state
        self._w_max = 0.0
        self._k = 0.0
        self._last_fail = clock()
        # measured send rate
        self._measured = 0.0
        self._count = 0
        self._bucket = float(math.floor(clock()))

    async def acquire(self) -> None:
        """Wait for a token (only once throttling has been seen)."""
        if not self.enabled:
            return
        async with self._lock:  # waiters queue in order instead of all waking at once
            self._refill()
            if self._tokens < 1:
                await asyncio.sleep((1 - self._tokens) / self.rate)
                self._refill()
            self._tokens -= 1

    def record(self, throttled: bool) -> None:
        """Feed one response into the rate (call after every attempt)."""
        measured = self._measure()
        now = self._clock()
        if throttled:
            current = measured if not self.enabled else min(measured, self.rate)
            self._w_max = current
            self._k = (self._w_max * (1 - self.BETA) / self.SCALE) ** (1 / 3)
            self._last_fail = now
            new_rate = current * self.BETA
            self.enabled = True
        else:
            new_rate = self.SCALE * (now - self._last_fail - self._k) ** 3 + self._w_max
        if self.enabled:
            self._set_rate(min(new_rate, self.MAX_RATE_ADJUST * measured))

    def _measure(self) -> float:
        now = self._clock()
        bucket = math.floor(now / self.BUCKET_SECONDS) * self.BUCKET_SECONDS
        self._count += 1
        if bucket > self._bucket:
            rate = self._count / (bucket - self._bucket)
            self._measured = rate * self.SMOOTHING + self._measured * (1 - self.SMOOTHING)
            self._count = 0
            self._bucket = bucket
        return self._measured

    def _set_rate(self, rate: float) -> None:
        self._refill()
        self.rate = max(rate, self.MIN_RATE)
        self._capacity = max(rate, 1.0)
        self._tokens = min(self._tokens, self._capacity)

    def _refill(self) -> None:
        now = self._clock()
        if self._last_refill is not None:
            self._tokens = min(self._capacity, self._tokens + (now - self._last_refill) * self.rate)
        self._last_refill = now
