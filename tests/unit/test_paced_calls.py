"""Pacing as a program sees it, through the transport seam: tokens of requests that were never
sent go back, the account's pacing is shared however its clients reach it, and each client's
own `rate_limits` still hold (issues 24 and 18)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

from aioecs import (
    AttemptEvent,
    CallEvent,
    Credentials,
    ECSClient,
    HttpRequest,
    HttpResponse,
    MockTransport,
)
from aioecs._limits import MARGIN

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
    assert waited <= 1 / (MARGIN * 20) + 0.05, f"waited {waited:.2f}s for tokens nobody used"
