"""Retries: which failures to retry, how long to wait, and how much retrying a client may do.

Semantics follow botocore's `standard` and `adaptive` modes: at most `max_attempts` attempts,
exponential backoff with full jitter (capped at 20 s, `x-amz-retry-after` honoured), and a
retry quota (a 500-token bucket; a retry costs 5, or 10 after a timeout; a success gives back
what its retry cost, or 1) so that an outage turns into fast failures instead of a retry
storm. `adaptive` adds botocore's client-side rate limiter (CUBIC). Throttling is mostly the
pacers' business (`_limits`): the client paces each throttling category to ECS's quota, and a
throttled read-only call is retried beyond `max_attempts` without spending this quota.

What may be retried depends on the operation, because a few ECS operations create something
new each time they are processed (StartTask starts new tasks; see `_spec.NOT_SAFE_TO_REPEAT`):

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

from ._exceptions import CallError, ResponseError, TransportError

RetryMode = Literal["standard", "adaptive"]

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
TRANSIENT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException"})
TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
CLOCK_SKEW_CODES = frozenset(
    {
        "RequestTimeTooSkewed",
        "RequestExpired",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "RequestInTheFuture",
    }
)

MAX_BACKOFF = 20.0
RETRY_AFTER_MAX_EXTRA = 5.0
QUOTA_CAPACITY = 500
RETRY_COST = 5
TIMEOUT_RETRY_COST = 10
NO_RETRY_INCREMENT = 1

Kind = Literal["throttling", "not_sent", "transient", "maybe_processed"]


def classify(error: CallError) -> Kind | None:
    """Why a failed attempt failed, as far as retrying is concerned; None: do not retry."""
    if isinstance(error, TransportError):
        return "maybe_processed" if error.sent else "not_sent"
    if error.code in THROTTLING_CODES or error.status == 429:
        return "throttling"
    if error.code in TRANSIENT_CODES or error.status in TRANSIENT_STATUS:
        return "transient"
    if isinstance(error, ResponseError):  # processed, then the answer was lost on the way
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


class RetryPolicy:
    """One per client: decides, for each failed attempt, whether and when to try again."""

    def __init__(
        self,
        *,
        mode: RetryMode = "standard",
        max_attempts: int = 3,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if mode not in ("standard", "adaptive"):
            raise ValueError(f"retry mode must be 'standard' or 'adaptive', not {mode!r}")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.mode = mode
        self.max_attempts = max_attempts
        self.quota = RetryQuota()
        self.limiter = RateLimiter(clock) if mode == "adaptive" else None
        self._rand = rand

    def __repr__(self) -> str:
        return f"RetryPolicy(mode={self.mode!r}, max_attempts={self.max_attempts})"

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

    def delay(self, attempt: int, error: CallError, retry_after: float | None) -> float:
        """Full-jitter exponential backoff before attempt `attempt + 1`."""
        base = self._rand() * min(2.0 ** (attempt - 1), MAX_BACKOFF)
        if retry_after is not None and retry_after >= 0:
            return min(max(base, retry_after), base + RETRY_AFTER_MAX_EXTRA)
        return base

    def succeeded(self, retry_cost: int | None) -> None:
        self.quota.release(retry_cost if retry_cost else NO_RETRY_INCREMENT)


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
