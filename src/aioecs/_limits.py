"""ECS's request quotas (how big each token bucket is), and pacing calls to them.

Source: "Request throttling for the Amazon ECS API" (Amazon ECS API Reference). ECS keeps one
token bucket per account and Region for each category below, shared by the category's actions
(each operation's descriptor names its category: `OperationSpec.category`);
a call finding its bucket empty is answered HTTP 400 `ThrottlingException`. Limits can be
raised through AWS Support, and every other caller in the account spends the same buckets, so
these numbers are a starting point for pacing, never a promise.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlsplit

__all__ = [
    "CATEGORIES",
    "DESCRIBE_TASKS_MAX",
    "ClientPacer",
    "Pacer",
    "Pacing",
    "Quota",
    "RateLimits",
    "Reservation",
    "pacing_for",
]

DESCRIBE_TASKS_MAX = 100
"""Tasks described per call at most: "A list of up to 100 task IDs or full ARN entries." (the
API reference; list pages hold at most as many). The fan-out and the watch batch by it."""


class Quota(NamedTuple):
    """A token bucket: `burst` tokens when full, refilled at `rate` tokens per second."""

    burst: float
    rate: float


CATEGORIES: dict[str, Quota] = {
    "cluster_resource_read": Quota(100, 20),
    "cluster_resource_modify": Quota(100, 40),
    "cluster_read": Quota(50, 20),
    "service_read": Quota(100, 20),
    "task_definition_read": Quota(50, 20),
    "tag_read": Quota(50, 20),
    "task_definition_modify": Quota(20, 1),
    "service_modify": Quota(50, 5),
}
"""Each throttling category's documented bucket. Which operations draw from which is in each
operation's descriptor (`OperationSpec.category`, from `codegen/customizations.py`)."""


# -- pacing ------------------------------------------------------------------------------------

# Probing: with no throttle for t seconds the pace grows by a factor 1 + PROBE * t**3 (CUBIC's
# shape): it stays near the rate that was just measured (few throttles), then rises faster and
# finds a raised limit or other callers going quiet (2x after 15 s, 4.4x after 22.5 s).
# The pace starts at the measured rate itself, with no margin below it: a token the mirror
# leaves unspent is time lost at the end of a sweep (a 3% margin left 3 of them, 0.15 s of a
# 5 s sweep at the documented quota), while a request reaching ECS a little early costs one
# throttle and a paced retry. The probe's slow start keeps those few: from 0.001 (2x after
# 10 s) the pace would be 6% over the rate after 4 s without a throttle.
PROBE = 0.0003
# A throttle that finds too few successes since the last one to measure anything says only
# "slower": halve, but not below a tenth of the documented rate on that evidence alone (a
# caller making one request at a time would otherwise halve itself to a crawl).
BACKOFF = 0.5
BACKOFF_FLOOR = 0.1
MIN_RATE = 0.2
# Successes needed between two throttles before their rate is trusted as a measurement.
MIN_SAMPLE = 4
# A measured share of the documented quota is trusted up to this many times it: beyond, it is
# noise (a few successes over a few milliseconds). A limit raised further is stated to the
# client (`rate_limits`).
MAX_SHARE = 10.0
# A throttle is believed (the bucket is empty) once a second request is throttled before
# this many requests sent after it got through; otherwise it was an isolated one (another
# caller's burst, a fault) and only stops the probe from rising further.
CONFIRM = 2
# A throttled read-only call stops retrying once its bucket has let nothing through for this
# long: ECS is no longer making progress for us, and the caller should hear of it.
STALLED = 60.0


# Clients on several threads (each with its own event loop) share the process-wide pacers:
# every change to a pacer or to the table of them is made under this lock. Reentrant, as a
# client's own pacer calls its account's.
_LOCK = threading.RLock()
_F = TypeVar("_F", bound=Callable[..., Any])


def _locked(method: _F) -> _F:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    return locked  # type: ignore[return-value]


class Reservation(NamedTuple):
    """A request's place in a pacer's queue: wait `wait` seconds, then send (at `sent`)."""

    wait: float
    sent: float


class Pacer:
    """A client-side mirror of one of ECS's token buckets: send only what it would accept.

    Optimistic at first: no pacing, so a job that is never throttled loses nothing. The first
    throttle says the bucket is empty *now*; what got through before it measures how big the
    bucket is. With S requests admitted over T seconds from the first one, and the documented
    quota (B, r), the share of the bucket available to us is s = S / (B + r*T): 1 if nobody
    else is reading, 0.25 if others spend three quarters of it, above 1 for a raised limit.
    From then on requests take tokens from a mirror bucket (burst s*B, refill s*r, empty at the
    throttle), so they reach ECS as fast as it refills and no faster.

    Each later throttle is another "empty now": the successes since the previous one, over the
    time between them, are the rate really available (the bucket was empty at both ends), and
    become the new estimate. Throttles of requests sent before the previous throttle carry no
    news and are ignored. While nothing is throttled the pace probes upward (see PROBE).

    An empty bucket throttles every request that reaches it, so a throttle is believed only
    when a second one follows before requests sent after it get through (CONFIRM): a fan-out
    has several in flight, and a lone caller's immediate retry finds the bucket still empty.
    An isolated throttle (a fault, another caller's blip) changes no estimate; it only stops
    the probe, so the pace settles back to the rate last measured.

    When the mirror refills completely (we paused for longer than ECS takes to refill), the
    pacer is optimistic again and the next throttle measures the bucket afresh: a throttle
    left unconfirmed from before the pause is forgotten, as it says nothing of the refilled
    bucket. A request that is cancelled, or ends, before it is sent gives its token back
    (`release`), so that the calls after it do not wait for tokens nobody used.

    Time is `time.monotonic`, shared by every event loop in the process. Nothing here awaits,
    but clients on other threads may share the pacer: its changes are made under a lock.
    """

    __slots__ = (
        "_clean",
        "_clock",
        "_episode",
        "_mirror_since",
        "_ok",
        "_probe_from",
        "_started",
        "_suspect",
        "_suspect_at",
        "_suspect_ok",
        "_tokens",
        "_updated",
        "burst",
        "last_success",
        "paced",
        "quota",
        "rate",
    )

    def __init__(self, quota: Quota, clock: Callable[[], float]) -> None:
        self.quota = quota
        self._clock = clock
        self.paced = False
        self.rate = quota.rate  # the estimated rate available to us, tokens per second
        self.burst = quota.burst
        self._tokens = 0.0  # of the mirror bucket; negative: reserved by waiting requests
        self._updated = 0.0
        self._episode = -math.inf  # when the last throttle arrived
        self._mirror_since = math.inf  # when the mirror was last emptied from optimistic
        self._started: float | None = None  # first request of the optimistic phase
        self._ok = 0  # successes of requests sent since `_episode` (or `_started`)
        self._probe_from = -math.inf  # the last throttle, believed or not
        # An unconfirmed throttle: its request's send time, when it came, `_ok` then, and the
        # successes since of requests sent after it.
        self._suspect: float | None = None
        self._suspect_at = 0.0
        self._suspect_ok = 0
        self._clean = 0
        self.last_success = -math.inf

    def __repr__(self) -> str:
        if not self.paced:
            return f"<Pacer unpaced quota={tuple(self.quota)}>"
        return f"<Pacer rate={self.rate:.2f}/s burst={self.burst:.0f}>"

    def pace(self) -> float:
        """The current rate of the mirror, probing included."""
        quiet = self._clock() - self._probe_from
        return self.rate * (1.0 + PROBE * quiet**3)

    @_locked
    def reserve(self) -> Reservation:
        """Take a token for one request: `(seconds to wait before sending, send time)`.

        Tokens are reserved at once, so concurrent callers queue in order, each waiting for
        its own slot, instead of all waking together.
        """
        now = self._clock()
        if not self.paced:
            if self._started is None:
                self._started = now
            return Reservation(0.0, now)
        rate = self.pace()
        tokens = self._tokens + (now - self._updated) * rate
        if tokens >= self.burst:
            # The mirror refilled while we sent less than it allows (a pause between sweeps):
            # ECS's bucket is full again too, so be optimistic again, and measure afresh.
            self.paced = False
            self._started = now
            self._ok = 0
            self._suspect = None
            return Reservation(0.0, now)
        self._tokens = tokens - 1.0
        self._updated = now
        wait = -self._tokens / rate if self._tokens < 0 else 0.0
        return Reservation(wait, now + wait)

    @_locked
    def release(self, reservation: Reservation) -> None:
        """Give back the token of a request that was not sent (cancelled while it waited).

        Only a token of the current mirror goes back: one taken after it was last emptied
        from the optimistic phase (a request paced then waits at least one slot, so its send
        time is after that). An unpaced reservation took nothing.
        """
        if self.paced and reservation.sent > self._mirror_since:
            self._tokens = min(self._tokens + 1.0, self.burst)

    @_locked
    def succeeded(self, sent: float) -> None:
        self.last_success = self._clock()
        if sent >= self._episode:
            self._ok += 1
        if self._suspect is not None and sent > self._suspect:
            self._clean += 1
            if self._clean >= CONFIRM:  # the bucket was not empty: an isolated throttle
                self._suspect = None

    @_locked
    def throttled(self, sent: float) -> None:
        """ECS answered ThrottlingException to a request sent at `sent`."""
        if sent < self._episode:  # in flight when the previous throttle arrived: no news
            return
        now = self._clock()
        self._probe_from = now
        quota = self.quota
        if self._suspect is not None and now - self._suspect_at > quota.burst / quota.rate:
            self._suspect = None  # from before ECS could refill its bucket: no news of it now
        if self._suspect is None:  # believed when a second one follows (CONFIRM)
            self._suspect, self._suspect_at, self._suspect_ok = sent, now, self._ok
            self._clean = 0
            return
        # Confirmed: the bucket was empty when the first of the two came.
        at, ok = self._suspect_at, self._suspect_ok
        self._suspect = None
        if not self.paced:
            elapsed = max(0.0, at - (self._started if self._started is not None else at))
            if ok >= MIN_SAMPLE:
                share = min(MAX_SHARE, ok / (quota.burst + quota.rate * elapsed))
            else:  # empty from the start: no measure of its size, only that it is in use
                share = BACKOFF
            self.rate = max(MIN_RATE, quota.rate * share)
            self.burst = max(1.0, quota.burst * share)
            self.paced = True
            self._mirror_since = now
        elif ok >= MIN_SAMPLE and at > self._episode:
            self.rate = max(MIN_RATE, min(quota.rate * MAX_SHARE, ok / (at - self._episode)))
        else:
            floor = min(self.rate, quota.rate * BACKOFF_FLOOR)
            self.rate = max(MIN_RATE, floor, self.rate * BACKOFF)
        self._episode = now
        self._ok = 0
        # ECS's bucket is empty now: so is the mirror, less what waiting requests reserved.
        self._tokens = min(self._tokens, 0.0)
        self._updated = now


class ClientPacer(Pacer):
    """A client's own pacer under the quota it stated (`ECSClient(rate_limits=...)`), stacked
    on its account's shared pacer: a request waits for both, and both learn from its answer.

    So a statement holds for that client's calls whatever the account's other clients stated
    or learnt, and the account's shared pacing holds for them too.
    """

    __slots__ = ("shared",)

    def __init__(self, quota: Quota, clock: Callable[[], float], shared: Pacer) -> None:
        super().__init__(quota, clock)
        self.shared = shared

    def reserve(self) -> Reservation:
        own, shared = super().reserve(), self.shared.reserve()
        return own if own.wait >= shared.wait else shared

    def release(self, reservation: Reservation) -> None:
        super().release(reservation)
        self.shared.release(reservation)

    def succeeded(self, sent: float) -> None:
        super().succeeded(sent)
        self.shared.succeeded(sent)

    def throttled(self, sent: float) -> None:
        super().throttled(sent)
        self.shared.throttled(sent)


class RateLimits(dict[str, Quota]):
    """The quotas one client stated, by category, and the `ClientPacer`s of its calls."""

    def __init__(self, stated: Mapping[str, Quota]) -> None:
        super().__init__(stated)
        self._own: dict[str, ClientPacer] = {}

    def pacer(self, category: str, shared: Pacer, clock: Callable[[], float]) -> Pacer:
        quota = self.get(category)
        if quota is None:
            return shared
        own = self._own.get(category)
        if own is None:
            own = self._own[category] = ClientPacer(quota, clock, shared)
        own.shared = shared  # the account's, found again for every call (see `pacing_for`)
        return own


class Pacing:
    """The pacers of one account and Region: one per throttling category.

    Shared by every client of that account, Region and endpoint in the process (`pacing_for`),
    so that two clients of one account do not each spend the whole bucket. A shared pacer
    starts from the documented quota, raised by any larger one a client states (a raised
    limit is the account's); a client's own statement also holds for its own calls
    (`RateLimits`, `ClientPacer`).
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._pacers: dict[str, Pacer] = {}

    def pacer(self, category: str | None, overrides: Mapping[str, Quota]) -> Pacer | None:
        """The pacer of a call drawing from `category` (its operation's; None: no pacing)."""
        if category is None:
            return None
        with _LOCK:
            shared = self._pacers.get(category)
            if shared is None:
                shared = self._pacers[category] = Pacer(CATEGORIES[category], self._clock)
            stated = overrides.get(category)
            if stated is None:
                return shared
            quota = shared.quota
            if stated.burst > quota.burst or stated.rate > quota.rate:
                shared.quota = Quota(max(quota.burst, stated.burst), max(quota.rate, stated.rate))
            if isinstance(overrides, RateLimits):
                return overrides.pacer(category, shared, self._clock)
            return shared


# The pacing of each (account, Region, endpoint), least recently used first; bounded, as a
# process may see many accounts over its life (a fleet sweep, rotating credentials).
_PACING: OrderedDict[tuple[str, str, str], Pacing] = OrderedDict()
MAX_PACINGS = 256
# The access key each credential source last gave: when temporary credentials rotate, their
# account's pacing moves to the new key instead of starting again, unpaced, beside the old.
_LINEAGE: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()


def pacing_for(access_key: str, region: str, endpoint: str, source: object = None) -> Pacing:
    """The process-wide pacing state of one account (its access key), Region and endpoint.

    The endpoint is part of the key so that two emulators (or a test server and AWS) never
    share state; every AWS endpoint of the Region (standard, FIPS, dual-stack, a VPC
    endpoint) reaches the same buckets, and is one key. `source` is
    the client's credential provider: when the key it gives changes (temporary credentials
    rotating), what was learnt under the previous key carries over to the new one.
    """
    key = (access_key, region, _bucket_endpoint(endpoint, region))
    with _LOCK:
        pacing = _PACING.get(key)
        previous = _previous_key(source, access_key)
        if pacing is None and previous is not None:
            pacing = _PACING.pop((previous, region, endpoint), None)
        if pacing is None:
            pacing = Pacing(time.monotonic)
        _PACING[key] = pacing
        _PACING.move_to_end(key)
        while len(_PACING) > MAX_PACINGS:
            _PACING.popitem(last=False)
        return pacing


def _previous_key(source: object, access_key: str) -> str | None:
    """The key `source` gave before `access_key`, if it changed; remembers `access_key`."""
    if source is None:
        return None
    try:
        previous = _LINEAGE.get(source)
        if previous != access_key:
            _LINEAGE[source] = access_key
    except TypeError:  # a provider of one's own that takes no weak reference
        return None
    return previous if previous != access_key else None


# ECS's own endpoints of a Region: ecs.<region>.amazonaws.com, ecs-fips.<region>..., the
# dual-stack ecs.<region>.api.aws, a VPC endpoint vpce-<id>.ecs.<region>.vpce.amazonaws.com,
# and the China and isolated partitions' domains.
_AWS_HOST = re.compile(
    r"(?:[a-z0-9-]+\.)?ecs(?:-fips)?\.(?P<region>[a-z0-9-]+)\.(?:vpce\.)?"
    r"(?:amazonaws\.com(?:\.cn)?|api\.aws|c2s\.ic\.gov|sc2s\.sgov\.gov)"
)


def _bucket_endpoint(endpoint: str, region: str) -> str:
    """What stands for an endpoint in the pacing key: "aws" for ECS's own endpoints of
    `region` (they share the account's buckets), the URL itself for anything else."""
    found = _AWS_HOST.fullmatch((urlsplit(endpoint).hostname or "").lower())
    return "aws" if found is not None and found["region"] == region else endpoint
