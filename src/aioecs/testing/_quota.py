"""ECS's request quotas, enforced: one token bucket per throttling category, as AWS keeps.

Why: a client's pacing can only be tested against a server that throttles the way ECS does,
with ListTasks and DescribeTasks spending one shared bucket (burst 100, 20 per second) and
every other category its own. The tables are the client's (`aioecs._limits.CATEGORIES`, and
each operation's descriptor for its category), the one place the documented numbers live;
`scale` stands for an account whose other readers spend part of each bucket (0.25) or whose
limits were raised (4).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .._generated.operations import SERVICE
from .._limits import CATEGORIES


class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second; one taken per admitted request."""

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class AccountQuotas:
    """The buckets of one account and Region, full at the start; ``admit`` spends them.

    Operations outside ECS's published categories are never throttled here.
    """

    def __init__(self, scale: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        if not scale > 0:
            raise ValueError(f"throttling_scale must be more than 0, got {scale!r}")
        self.scale = scale
        self._clock = clock
        now = clock()
        self._buckets = {
            name: TokenBucket(quota.rate * scale, max(1.0, quota.burst * scale), now)
            for name, quota in CATEGORIES.items()
        }

    def admit(self, operation: str) -> bool:
        category = SERVICE.category_of(operation)
        if category is None:
            return True
        return self._buckets[category].take(self._clock())
