"""What a call does when ECS throttles it, through the transport seam: reads persist, paced and
without spending the retry quota; writes stop at max_attempts; deadlines hold."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from aioecs import (
    Credentials,
    ECSClient,
    HttpRequest,
    HttpResponse,
    MockTransport,
    RetryStrategy,
)
from aioecs._retry import QUOTA_CAPACITY
from aioecs.errors import ThrottlingException

THROTTLED = HttpResponse(
    400, {"x-amzn-RequestId": "r-t"}, b'{"__type": "ThrottlingException", "message": "Rate"}'
)
CREDS = Credentials(access_key_id="AKIDTHROTTLE", secret_access_key="secret")


def _client(answers: Iterator[HttpResponse], seen: list[str], **options: object) -> ECSClient:
    def handler(request: HttpRequest) -> HttpResponse:
        seen.append(request.operation)
        return next(answers)

    settings: dict[str, object] = {
        "region": "eu-west-1",
        # A fresh endpoint per test: pacing state is per access key, Region and endpoint.
        "endpoint_url": f"https://ecs.test-{next(_ENDPOINTS)}.example",
        "credentials": CREDS,
        "transport": MockTransport(handler),
        # A fast bucket, so the pacer's waits are milliseconds.
        "rate_limits": {"cluster_resource_read": (5, 2000), "cluster_resource_modify": (5, 2000)},
    }
    return ECSClient(**(settings | options))  # type: ignore[arg-type]


_ENDPOINTS = itertools.count()


def _then_ok(throttles: int, body: bytes) -> Iterator[HttpResponse]:
    yield from itertools.repeat(THROTTLED, throttles)
    yield from itertools.repeat(HttpResponse(200, {"x-amzn-RequestId": "r-ok"}, body))


async def test_a_throttled_read_persists_beyond_max_attempts_without_spending_the_quota() -> None:
    seen: list[str] = []
    strategy = RetryStrategy(max_attempts=2)
    ecs = _client(_then_ok(6, b'{"taskArns": ["a"]}'), seen, retry_strategy=strategy)
    async with ecs:
        out = await ecs.list_tasks(cluster="prod")
        assert out.task_arns == ["a"]
        assert strategy.quota.available == QUOTA_CAPACITY  # throttling took nothing
    assert seen == ["ListTasks"] * 7


async def test_a_throttled_write_stops_at_max_attempts() -> None:
    seen: list[str] = []
    no_jitter = RetryStrategy(max_attempts=2, rand=lambda: 0.0)  # no backoff wait
    ecs = _client(_then_ok(6, b"{}"), seen, retry_strategy=no_jitter)
    async with ecs:
        with pytest.raises(ThrottlingException, match=r"Rate \(2 attempts\)") as caught:
            await ecs.stop_task(task="t")
    assert seen == ["StopTask"] * 2
    assert caught.value.request_id == "r-t" and caught.value.status == 400


async def test_a_throttled_read_stops_at_its_deadline() -> None:
    seen: list[str] = []
    ecs = _client(itertools.repeat(THROTTLED), seen, total_timeout=0.05)
    async with ecs:
        with pytest.raises(ThrottlingException) as caught:
            await ecs.describe_tasks(cluster="prod", tasks=["a"])
    assert len(seen) > 3  # beyond max_attempts, until the deadline: then no other retry
    assert f"({len(seen)} attempts; total_timeout of 0.05 s reached)" in str(caught.value)


async def test_without_pacing_a_throttled_read_is_an_ordinary_retryable_error() -> None:
    seen: list[str] = []
    strategy = RetryStrategy(max_attempts=3, rand=lambda: 0.0)
    ecs = _client(
        _then_ok(6, b'{"taskArns": []}'), seen, retry_strategy=strategy, rate_limits=False
    )
    async with ecs:
        with pytest.raises(ThrottlingException, match=r"\(3 attempts\)"):
            await ecs.list_tasks(cluster="prod")
        # Each retry took the quota's 5, given back by nothing: the call failed.
        assert strategy.quota.available == QUOTA_CAPACITY - 2 * 5
    assert seen == ["ListTasks"] * 3


async def test_counts_say_what_a_fan_out_cost() -> None:
    seen: list[str] = []
    pages = iter(
        [
            THROTTLED,
            HttpResponse(200, {}, b'{"taskArns": []}'),
        ]
    )
    ecs = _client(pages, seen)
    async with ecs:
        stream = ecs.iter_tasks(cluster="prod")
        assert [t async for t in stream] == []
    assert (stream.counts.sent, stream.counts.throttled, stream.counts.retried) == (2, 1, 1)
