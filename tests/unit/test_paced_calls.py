"""Pacing as a program sees it, through the transport seam: tokens of requests that were never
sent go back, the account's pacing is shared however its clients reach it, and each client's
own `rate_limits` still hold (issues 24 and 18)."""

from __future__ import annotations

import itertools
import json
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from aioecs import (
    AttemptEvent,
    CallEvent,
    Credentials,
    ECSClient,
    HttpRequest,
    HttpResponse,
    MockTransport,
    _limits,
)

THROTTLED = HttpResponse(
    400, {"x-amzn-RequestId": "r-t"}, b'{"__type": "ThrottlingException", "message": "Rate"}'
)
_KEYS = itertools.count()


def _fresh_key() -> Credentials:
    """Credentials of an account no other test paces (pacing is process-wide)."""
    return Credentials(access_key_id=f"AKIDPACED{next(_KEYS)}", secret_access_key="secret")


class Paced:
    """A hook keeping how long each attempt waited for its pacer."""

    def __init__(self) -> None:
        self.waits: list[tuple[str, float]] = []

    def on_attempt(self, event: AttemptEvent) -> None:
        self.waits.append((event.operation, event.paced))

    def on_call(self, event: CallEvent) -> None:
        pass


def _ecs(throttles: int) -> Iterator[HttpResponse]:
    """`throttles` ThrottlingExceptions, then pages of 100 tasks without end."""
    yield from itertools.repeat(THROTTLED, throttles)
    for page in itertools.count():
        arns = [f"arn:aws:ecs:eu-west-1:1:task/prod/{page}-{i}" for i in range(100)]
        yield HttpResponse(200, {}, json.dumps({"taskArns": arns, "nextToken": "n"}).encode())


def _handler(throttles: int) -> MockTransport:
    pages = _ecs(throttles)

    def handler(request: HttpRequest) -> HttpResponse:
        if request.operation == "ListTasks":
            return next(pages)
        arns = json.loads(request.body)["tasks"]
        tasks = [{"taskArn": arn, "lastStatus": "RUNNING"} for arn in arns]
        return HttpResponse(200, {}, json.dumps({"tasks": tasks, "failures": []}).encode())

    return MockTransport(handler)


async def test_leaving_a_paced_fan_out_early_gives_its_unused_tokens_back() -> None:
    paced = Paced()
    # Two throttles on the first ListTasks: paced at half the stated rate, 20/s, burst 5.
    async with ECSClient(
        region="eu-west-1", credentials=_fresh_key(), transport=_handler(throttles=2),
        rate_limits={"cluster_resource_read": (10, 40)}, hooks=[paced],
    ) as ecs:  # fmt: skip
        clusters = [f"c{i}" for i in range(20)]
        async with ecs.iter_tasks(clusters=clusters, concurrency=20) as stream:
            async for _ in stream:
                break  # 20 ListTasks and their DescribeTasks were queued: a second of slots
        paced.waits.clear()
        await ecs.list_tasks(cluster="prod")
    ((operation, waited),) = paced.waits
    assert operation == "ListTasks"
    # One slot at most: the cancelled requests' reservations went back to the bucket.
    assert waited <= 1 / 20 + 0.05, f"waited {waited:.2f}s for tokens nobody used"


def _throttling_then(body: bytes, throttles: int = 2) -> MockTransport:
    answers = itertools.chain(itertools.repeat(THROTTLED, throttles), itertools.repeat(None))

    def handler(request: HttpRequest) -> HttpResponse:
        return next(answers) or HttpResponse(200, {}, body)

    return MockTransport(handler)


LISTED = b'{"taskArns": []}'


async def test_a_clients_own_rate_limits_hold_after_another_client_paced_first() -> None:
    key, paced = _fresh_key(), Paced()
    async with ECSClient(
        region="eu-west-1", credentials=key, transport=_throttling_then(LISTED, 0)
    ) as first:  # the account's shared pacer is made here, from the documented quota
        await first.list_tasks(cluster="prod")
        async with ECSClient(
            region="eu-west-1", credentials=key, transport=_throttling_then(LISTED),
            rate_limits={"cluster_resource_read": (10, 2)}, hooks=[paced],
        ) as stated:  # fmt: skip
            await stated.list_tasks(cluster="prod")  # throttled twice: the bucket is empty
            paced.waits.clear()
            await stated.list_tasks(cluster="prod")
            ((_, waited),) = paced.waits
            # Its own statement: half of 2/s after an empty bucket, one slot a second. (The
            # account's pacer alone, from the documented 20/s, would give a tenth of that.)
            assert waited > 0.5, f"paced {waited:.2f}s: the client's rate_limits were ignored"


class Rotating:
    """Temporary credentials that rotate at every call: a new access key each time."""

    def __init__(self) -> None:
        self.keys = itertools.count()

    async def get(self) -> Credentials:
        return Credentials(
            access_key_id=f"ASIAROTATE{next(self.keys)}", secret_access_key="s", session_token="t"
        )


async def test_rotating_credentials_keep_what_was_learnt_and_do_not_grow_the_table() -> None:
    paced = Paced()
    async with ECSClient(
        region="eu-west-1", credentials=Rotating(), transport=_throttling_then(LISTED),
        endpoint_url="https://ecs.rotation.example", hooks=[paced],
    ) as ecs:  # fmt: skip
        await ecs.list_tasks(cluster="prod")  # throttled twice, paced: one bucket, emptied
        size = len(_limits._PACING)
        paced.waits.clear()
        for _ in range(5):
            await ecs.list_tasks(cluster="prod")
    assert len(_limits._PACING) == size  # moved with the key, not added
    # Every call after the rotation is still paced (one slot of the learnt rate each).
    assert all(waited > 0 for _, waited in paced.waits), paced.waits


def test_the_pacing_table_is_bounded() -> None:
    for n in range(1000):  # a long-lived process that saw many accounts
        _limits.pacing_for(f"AKIDBOUND{n}", "eu-west-1", "https://ecs.bound.example")
    assert len(_limits._PACING) <= 256 == _limits.MAX_PACINGS
    # The most recently used stay.
    last = _limits.pacing_for("AKIDBOUND999", "eu-west-1", "https://ecs.bound.example")
    assert last is _limits.pacing_for("AKIDBOUND999", "eu-west-1", "https://ecs.bound.example")


@pytest.mark.parametrize(
    "options",
    [
        {"use_fips": True},
        {"use_dualstack": True},
        {"endpoint_url": "https://vpce-0a1b2c3d-4e5f6a7b.ecs.eu-west-1.vpce.amazonaws.com"},
    ],
)
async def test_every_aws_endpoint_of_a_region_shares_the_accounts_pacing(
    options: dict[str, Any],
) -> None:
    key, paced = _fresh_key(), Paced()
    async with ECSClient(
        region="eu-west-1", credentials=key, transport=_throttling_then(LISTED), **options
    ) as special:
        await special.list_tasks(cluster="prod")  # throttled twice: the account's bucket is empty
        async with ECSClient(
            region="eu-west-1", credentials=key, transport=_throttling_then(LISTED, 0),
            hooks=[paced],
        ) as standard:  # fmt: skip
            assert standard.endpoint_url != special.endpoint_url
            await standard.list_tasks(cluster="prod")
    ((_, waited),) = paced.waits
    assert waited > 0, "the standard endpoint's client ignored the account's empty bucket"


def test_clients_on_several_threads_share_one_pacer_per_account() -> None:
    """The table and the pacers are made under a lock: threads asking at once for a new
    account get one Pacing, and one pacer per category (without it, about one race in 25
    gave two, one of which learnt alone)."""
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for n in range(300):
            start = threading.Barrier(8)
            pacers: list[object] = []

            def first_call(
                n: int = n, start: threading.Barrier = start, pacers: list[object] = pacers
            ) -> None:
                start.wait()
                pacing = _limits.pacing_for(f"AKIDTHREADS{n}", "eu-west-1", "https://x.example")
                pacers.append(pacing.pacer("cluster_resource_read", {}))

            threads = [threading.Thread(target=first_call) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert len(set(map(id, pacers))) == 1, f"round {n}: {len(set(map(id, pacers)))}"
    finally:
        sys.setswitchinterval(switch)
