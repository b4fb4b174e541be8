"""Seeded fault injection for LocalECS: a throttling service, a failing fleet, a lossy network.

Why: a retrying client has to be tested against the failures it is built for, and the
interesting ones never come from a well-behaved server. Above all a connection dropped *after*
the request took effect (``reset_after``): a client that retries StartTask blindly then starts
the tasks twice, and only the emulator's task count can tell.

How faults are chosen: every request to a targeted operation draws two numbers from
``random.Random(seed)``, one picking at most one fault (the probabilities are consecutive slices
of [0, 1), so they must sum to at most 1) and one deciding a latency spike. Draws are made in the
order requests arrive, and requests to operations outside :attr:`Faults.operations` draw nothing,
so a client that sends one request after another meets the same faults on every run. The token
bucket of :attr:`Faults.rate_limit` is real time, so it is reproducible only as far as timing is.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Set
from dataclasses import dataclass, fields
from typing import Literal

from aiohttp import web

from ._errors import ErrorAnswer
from ._quota import TokenBucket
from ._wire import error_response, reset

THROTTLE = "throttle"
RATE_LIMIT = "rate_limit"
QUOTA = "quota"  # LocalECS(throttling="aws"): the category's bucket was empty
SERVER_ERROR = "server_error"
UNAVAILABLE = "unavailable"
RESET_BEFORE = "reset_before"
RESET_AFTER = "reset_after"
TRUNCATED = "truncated"
SHORT_BODY = "short_body"
HTML_502 = "html_502"
LATENCY_SPIKE = "latency_spike"

# The exclusive faults in the order their slices of [0, 1) are laid out.
_EXCLUSIVE = (
    THROTTLE,
    SERVER_ERROR,
    UNAVAILABLE,
    RESET_BEFORE,
    RESET_AFTER,
    TRUNCATED,
    SHORT_BODY,
    HTML_502,
)
# Faults whose request still reaches the model (and so takes effect).
PROCESSED = frozenset({RESET_AFTER, TRUNCATED, SHORT_BODY})

_THROTTLED = ErrorAnswer("ThrottlingException", "Rate exceeded")
_SERVER_ERROR = ErrorAnswer("ServerException", "Service Unavailable. Please try again later.", 500)
_UNAVAILABLE = ErrorAnswer("ServiceUnavailableException", "Service Unavailable", 503)
# What an AWS load balancer in front of a service answers when its target failed: not the
# service's JSON, so a client must not try to read an error code from it.
_BAD_GATEWAY = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class Faults:
    """What LocalECS should get wrong, and how often: each field a per-request probability.

    Pass to ``LocalECS(faults=...)`` or assign to :attr:`LocalECS.faults` while it runs
    (assigning starts the seeded sequence and the rate-limit buckets afresh; ``None`` turns
    injection off). What each looks like on the wire:

    Not processed (the request has no effect; retrying is always safe):

    * ``throttle``: HTTP 400 ``{"__type": "ThrottlingException", "message": "Rate exceeded"}``.
    * ``server_error``: HTTP 500 ``{"__type": "ServerException", ...}``.
    * ``unavailable``: HTTP 503 ``{"__type": "ServiceUnavailableException", ...}``.
    * ``reset_before``: the connection is reset (TCP RST) with no response at all.
    * ``html_502``: HTTP 502 ``text/html`` page from "a load balancer", no request id.

    Processed (the request takes effect, e.g. StartTask starts its tasks, then the answer is lost):

    * ``reset_after``: the connection is reset with no response.
    * ``truncated``: status and headers (``Content-Length`` of the full body) and the first half
      of the body are sent, then the connection is closed.
    * ``short_body``: a complete HTTP 200 whose body is the first half of the JSON, framed as if
      it were whole (what a proxy that cut the body short sends on): not valid JSON.

    And independently of those:

    * ``latency_spike``: ``spike_ms`` of extra delay before the answer (whatever it is).

    Faults are decided as a request arrives, before its signature is checked: they stand for
    the network and the service's front end, which fail whether or not a request is valid.
    JSON errors carry ``x-amzn-RequestId`` and ``x-amzn-ErrorType`` like the service's own.

    Args:
        seed: seeds the ``random.Random`` the faults are drawn from; None draws from OS entropy.
        operations: if set, only requests to these operations (``{"StartTask"}``) get faults or
            are rate limited; others are served normally and draw nothing.
        rate_limit: ``(tokens_per_second, burst)``: a token bucket, full at the start; a request
            finding it empty is throttled (like ``throttle``, counted as ``"rate_limit"``) and
            takes no token. That is how ECS throttles, so a client that backs off when throttled
            gets through with fewer requests than one that does not.
        rate_limit_scope: ``"operation"`` (a bucket per operation, as ECS keeps one per API
            action) or ``"global"`` (one bucket for all requests).
    """

    seed: int | None = None
    throttle: float = 0.0
    server_error: float = 0.0
    unavailable: float = 0.0
    reset_before: float = 0.0
    reset_after: float = 0.0
    truncated: float = 0.0
    short_body: float = 0.0
    html_502: float = 0.0
    latency_spike: float = 0.0
    spike_ms: float = 500.0
    operations: Set[str] | None = None
    rate_limit: tuple[float, float] | None = None
    rate_limit_scope: Literal["operation", "global"] = "operation"

    def __post_init__(self) -> None:
        for name in (*_EXCLUSIVE, LATENCY_SPIKE):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"Faults.{name} is a probability, got {p!r}")
        total = sum(getattr(self, name) for name in _EXCLUSIVE)
        if total > 1.0 + 1e-9:
            raise ValueError(f"the fault probabilities add up to {total:g}, more than 1")
        if self.spike_ms < 0:
            raise ValueError(f"Faults.spike_ms must not be negative, got {self.spike_ms!r}")
        if self.operations is not None:
            if isinstance(self.operations, str):
                raise TypeError("Faults.operations is a set of operation names, not one string")
            object.__setattr__(self, "operations", frozenset(self.operations))
        if self.rate_limit is not None:
            rate, burst = self.rate_limit
            if rate < 0 or burst < 1:
                raise ValueError(
                    f"rate_limit needs rate >= 0 and burst >= 1, got {self.rate_limit}"
                )
        if self.rate_limit_scope not in ("operation", "global"):
            raise ValueError(
                f"rate_limit_scope: 'operation' or 'global', not {self.rate_limit_scope!r}"
            )

    @classmethod
    def parse(cls, spec: str) -> Faults:
        """Faults from ``"seed=1,throttle=0.1,rate_limit=20:100,operations=StartTask+ListTasks"``.

        For configuration that arrives as text (``python -m aioecs.testing --faults``, an
        environment variable): comma-separated ``field=value``; ``rate_limit`` is
        ``rate:burst``, ``operations`` is ``+``-separated.
        """
        known = {f.name for f in fields(cls)}
        values: dict[str, object] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            name, sep, value = item.partition("=")
            name = name.strip()
            value = value.strip()
            if not sep or name not in known:
                raise ValueError(f"bad fault setting {item!r}; known: {', '.join(sorted(known))}")
            if name == "seed":
                values[name] = int(value)
            elif name == "operations":
                values[name] = frozenset(filter(None, value.split("+")))
            elif name == "rate_limit":
                rate, _, burst = value.partition(":")
                values[name] = (float(rate), float(burst or rate))
            elif name == "rate_limit_scope":
                values[name] = value
            else:
                values[name] = float(value)
        return cls(**values)  # type: ignore[arg-type]


class FaultInjector:
    """Decides, per request, which fault (if any) LocalECS injects; counts what it decided.

    One instance per :class:`Faults` value: replacing the config replaces the injector, which
    is what restarts the seeded sequence.
    """

    def __init__(
        self,
        faults: Faults,
        counts: Counter[str],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.faults = faults
        self._counts = counts
        self._monotonic = monotonic
        self._rng = random.Random(faults.seed)
        self._buckets: dict[str, TokenBucket] = {}
        self._slices: list[tuple[float, str]] = []
        edge = 0.0
        for name in _EXCLUSIVE:
            p: float = getattr(faults, name)
            if p > 0:
                edge += p
                self._slices.append((edge, name))

    def draw(self, operation: str) -> tuple[str | None, float]:
        """``(fault or None, extra delay in ms)`` for one request to ``operation``."""
        faults = self.faults
        if faults.operations is not None and operation not in faults.operations:
            return None, 0.0
        pick, spike = self._rng.random(), self._rng.random()
        extra_ms = 0.0
        if spike < faults.latency_spike:
            extra_ms = faults.spike_ms
            self._counts[LATENCY_SPIKE] += 1
        fault: str | None = None
        if faults.rate_limit is not None and not self._admit(operation):
            fault = RATE_LIMIT
        else:
            for edge, name in self._slices:
                if pick < edge:
                    fault = name
                    break
        if fault is not None:
            self._counts[fault] += 1
        return fault, extra_ms

    def _admit(self, operation: str) -> bool:
        assert self.faults.rate_limit is not None
        key = operation if self.faults.rate_limit_scope == "operation" else ""
        now = self._monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(*self.faults.rate_limit, now)
        return bucket.take(now)


# -- on the wire ------------------------------------------------------------------------------


def reject(fault: str, request: web.BaseRequest, request_id: str) -> web.StreamResponse:
    """The answer to a request stopped by ``fault`` before it reached the model."""
    if fault in (THROTTLE, RATE_LIMIT, QUOTA):
        return error_response(_THROTTLED, request_id)
    if fault == SERVER_ERROR:
        return error_response(_SERVER_ERROR, request_id)
    if fault == UNAVAILABLE:
        return error_response(_UNAVAILABLE, request_id)
    if fault == HTML_502:
        return web.Response(
            status=502,
            body=_BAD_GATEWAY,
            headers={"Content-Type": "text/html", "Server": "awselb/2.0"},
        )
    assert fault == RESET_BEFORE, fault
    return reset(request)


async def spoil(fault: str, request: web.BaseRequest, response: web.Response) -> web.StreamResponse:
    """Lose or cut short ``response``, the answer to a request the model has already executed."""
    if fault == RESET_AFTER:
        return reset(request)
    body = response.body
    assert isinstance(body, bytes)
    if fault == SHORT_BODY:
        return web.Response(status=response.status, body=body[: len(body) // 2],
                            headers={k: v for k, v in response.headers.items()
                                     if k.lower() != "content-length"})  # fmt: skip
    assert fault == TRUNCATED, fault
    cut = web.StreamResponse(status=response.status, headers=response.headers)
    cut.content_length = len(body)
    await cut.prepare(request)
    await cut.write(body[: len(body) // 2])
    # close() (unlike abort()) flushes what was written, then FIN: the client reads the headers
    # and half the body, then end of stream. force_close() stops aiohttp keeping it alive.
    cut.force_close()
    if request.transport is not None:
        request.transport.close()
    return cut
