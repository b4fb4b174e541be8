"""A fan-out paced to ECS's bucket ends at the bucket's floor (issue 22): every token ECS
refills is spent, and few requests are throttled for it.

A fake clock drives the pacer and a server bucket (LocalECS's) through a fan-out shaped like
`iter_tasks`: ListTasks pages one after another, each page's DescribeTasks at most 8 in flight,
a throttled request sent again at once (through the pacer). Each request takes 10 to 30 ms,
drawn from a seeded generator, so the runs are the same every time; no real time passes."""

from __future__ import annotations

import heapq
import random
import statistics
from typing import NamedTuple

import pytest

from aioecs._limits import CATEGORIES, Pacer, Quota
from aioecs.testing._quota import TokenBucket

READS = CATEGORIES["cluster_resource_read"]  # ListTasks and DescribeTasks: burst 100, 20/s
SEEDS = range(20)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Run(NamedTuple):
    wall: float
    sent: int
    throttled: int


class Request(NamedTuple):
    at: float  # when it next moves: reaches ECS, or its answer reaches the client
    order: int
    kind: str  # "list" or "describe"
    sent: float
    admitted: bool | None  # None: on its way to ECS


def fan_out(pages: int, scale: float, seed: int, concurrency: int = 8) -> Run:
    """Fetch `pages` ListTasks pages and describe each, against a bucket of `scale` x the
    documented quota; the pacer starts from the documented one, as a client does."""
    rng, clock = random.Random(seed), Clock()
    pacer = Pacer(READS, clock)
    bucket = TokenBucket(READS.rate * scale, max(1.0, READS.burst * scale), clock.now)
    queue: list[Request] = []
    sent = throttled = listed = waiting = describing = 0

    def send(kind: str) -> None:
        nonlocal sent
        at = pacer.reserve().sent
        heapq.heappush(queue, Request(at + rng.uniform(0.005, 0.015), sent, kind, at, None))
        sent += 1

    send("list")
    while queue:
        request = heapq.heappop(queue)
        clock.now = request.at
        if request.admitted is None:  # reaches ECS; the answer comes back
            back = clock.now + rng.uniform(0.005, 0.015)
            heapq.heappush(queue, request._replace(at=back, admitted=bucket.take(clock.now)))
            continue
        if not request.admitted:
            throttled += 1
            pacer.throttled(request.sent)
            send(request.kind)
            continue
        pacer.succeeded(request.sent)
        if request.kind == "list":
            listed += 1
            waiting += 1
            if listed < pages:
                send("list")
        else:
            describing -= 1
        while waiting and describing < concurrency:
            waiting -= 1
            describing += 1
            send("describe")
    return Run(clock.now - 100.0, sent, throttled)


@pytest.mark.parametrize(
    ("tasks", "scale", "throttled_at_most"),
    [
        (10_000, 1.0, 0.015),  # the case; pacing at 97% of the rate throttled 1.4%
        (50_000, 1.0, 0.010),  # 1.0% at 97%
        (10_000, 0.25, 0.036),  # others spend three quarters of the bucket: 3.5% at 97%
    ],
)
def test_a_paced_fan_out_ends_at_the_bucket_floor(
    tasks: int, scale: float, throttled_at_most: float
) -> None:
    pages = tasks // 100
    bucket = Quota(READS.burst * scale, READS.rate * scale)
    floor = (2 * pages - bucket.burst) / bucket.rate  # every token refilled, none left over
    runs = [fan_out(pages, scale, seed) for seed in SEEDS]
    # How many tokens ECS refilled after the fan-out could have ended: the last round trips,
    # and whatever the pacer left unspent (3 at 97% of the rate, at x1: 0.15 s).
    late = statistics.median(run.wall - floor for run in runs) * bucket.rate
    assert late <= 2.0
    share = sum(run.throttled for run in runs) / sum(run.sent for run in runs)
    assert share <= throttled_at_most
