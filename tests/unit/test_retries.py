"""Retry decisions: what is retried for which operation, backoff, quota, adaptive rate."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Coroutine
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
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
    RetryStrategy,
)
from aioecs._exceptions import ECSError, ResponseError, TransportError
from aioecs._retry import (
    CLOCK_SKEW_CODES,
    QUOTA_CAPACITY,
    RateLimiter,
    RequestCounts,
    RetryQuota,
    classify,
)
from aioecs.errors import (
    ClientClosedError,
    ClusterNotFoundException,
    LimitExceededException,
    ServerException,
    ThrottlingException,
)
from aioecs.testing import LocalECS

from ..servers import client_for, free_port


def _throttle() -> ECSError:
    return ECSError("Rate exceeded", code="ThrottlingException", status=400)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (_throttle(), "throttling"),
        (ECSError("slow down", code="X", status=429), "throttling"),
        (ServerException("boom", status=500), "transient"),
        (ECSError("", code="HTTP502", status=502), "transient"),
        (ECSError("", code="RequestTimeout", status=408), "transient"),
        (TransportError("refused", code="ConnectError", sent=False), "not_sent"),
        (TransportError("reset", code="ConnectionLost", sent=True), "maybe_processed"),
        (ResponseError("not JSON", code="InvalidResponse", status=200), "maybe_processed"),
        (ClusterNotFoundException("no", status=400), None),
    ],
)
def test_classify(error: ECSError, kind: str | None) -> None:
    assert classify(error) == kind


def test_non_idempotent_calls_retry_only_what_was_not_processed() -> None:
    strategy = RetryStrategy(max_attempts=5)
    assert strategy.retry_cost(_throttle(), 1, safe_to_repeat=False) == 5
    refused = TransportError("", code="ConnectError", sent=False)
    assert strategy.retry_cost(refused, 1, safe_to_repeat=False) == 5
    for ambiguous in (
        ServerException("", status=500),
        TransportError("", code="ConnectionLost", sent=True),
        TransportError("", code="Timeout", sent=True),
        ResponseError("", code="InvalidResponse", status=200),
    ):
        assert strategy.retry_cost(ambiguous, 1, safe_to_repeat=False) is None
        assert strategy.retry_cost(ambiguous, 1, safe_to_repeat=True) is not None


def test_max_attempts_and_quota() -> None:
    strategy = RetryStrategy(max_attempts=3)
    assert strategy.retry_cost(_throttle(), 3, safe_to_repeat=True) is None
    # A bounded number of tries: a quota that never runs out (a retry storm) fails here
    # instead of looping forever.
    costs = [strategy.retry_cost(_throttle(), 1, safe_to_repeat=True) for _ in range(101)]
    assert costs == [5] * 100 + [None]
    assert QUOTA_CAPACITY == 500 and strategy.quota.available == 0
    retried = strategy.acquire_token("ListTasks", safe_to_repeat=True, readonly=True)
    retried.cost = 5
    strategy.record_success(retried)  # a retried call that succeeded gives its cost back
    first = strategy.acquire_token("ListTasks", safe_to_repeat=True, readonly=True)
    strategy.record_success(first)  # a first-try success gives 1
    assert strategy.quota.available == 6


def test_the_default_is_three_attempts() -> None:
    strategy = RetryStrategy()
    assert strategy.retry_cost(_throttle(), 2, safe_to_repeat=True) == 5
    assert strategy.retry_cost(_throttle(), 3, safe_to_repeat=True) is None
    assert repr(strategy) == "RetryStrategy(mode='standard', max_attempts=3)"
    assert repr(RetryStrategy(mode="adaptive", max_attempts=7)) == (
        "RetryStrategy(mode='adaptive', max_attempts=7)"
    )


def test_the_quota_spends_to_exactly_empty_and_refills_to_capacity() -> None:
    quota = RetryQuota(10)
    assert quota.acquire(10) and quota.available == 0
    assert not quota.acquire(1) and quota.available == 0
    quota.release(4)
    assert quota.available == 4
    quota.release(100)
    assert quota.available == 10


@pytest.mark.parametrize("code", ["Timeout", "ConnectTimeout"])
def test_a_timed_out_attempt_costs_ten(code: str) -> None:
    strategy = RetryStrategy()
    timed_out = TransportError("", code=code, sent=code == "Timeout")
    assert strategy.retry_cost(timed_out, 1, safe_to_repeat=True) == 10
    assert strategy.quota.available == 490
    # 49 more: the quota is then empty, and the next timed-out attempt is not retried.
    assert [strategy.retry_cost(timed_out, 1, safe_to_repeat=True) for _ in range(50)] == [
        *[10] * 49,
        None,
    ]


def test_request_counts_repr() -> None:
    counts = RequestCounts()
    counts.sent, counts.throttled, counts.retried = 7, 2, 3
    assert repr(counts) == "RequestCounts(sent=7, throttled=2, retried=3)"


# Written out rather than imported: dropping one from `_exceptions` must fail a test.
_THROTTLING = [
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
]


@pytest.mark.parametrize("code", _THROTTLING)
def test_every_throttling_code_is_retried_even_for_unsafe_calls(code: str) -> None:
    error = ECSError("", code=code, status=400)
    assert classify(error) == "throttling"
    assert RetryStrategy().retry_cost(error, 1, safe_to_repeat=False) == 5


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_every_transient_status_is_retried(status: int) -> None:
    error = ECSError("", code=f"HTTP{status}", status=status)
    assert classify(error) == "transient"
    assert RetryStrategy().retry_cost(error, 1, safe_to_repeat=True) == 5


@pytest.mark.parametrize("code", ["RequestTimeout", "RequestTimeoutException"])
def test_every_transient_code_is_retried(code: str) -> None:
    assert classify(ECSError("", code=code, status=400)) == "transient"


@pytest.mark.parametrize("status", [400, 403, 404, 501, 505])
def test_other_statuses_are_not_retried(status: int) -> None:
    error = ECSError("", code="SomethingElse", status=status)
    assert classify(error) is None
    assert RetryStrategy().retry_cost(error, 1, safe_to_repeat=True) is None


def test_the_clock_skew_codes() -> None:
    # The client corrects its clock from the Date header and retries on these (AWS's and
    # botocore's list; see test_clock_skew_is_corrected_from_the_date_header).
    assert {
        "RequestTimeTooSkewed",
        "RequestExpired",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "RequestInTheFuture",
    } == CLOCK_SKEW_CODES


def test_backoff_is_full_jitter_capped_and_honours_retry_after() -> None:
    high = RetryStrategy(rand=lambda: 1.0)
    assert [high.delay(n, None) for n in (1, 2, 3, 6, 10)] == [1, 2, 4, 20, 20]
    assert RetryStrategy(rand=lambda: 0.0).delay(4, None) == 0
    half = RetryStrategy(rand=lambda: 0.5)
    assert half.delay(1, 3.0) == 3.0  # the server asked for 3 s
    assert half.delay(1, 60.0) == 5.5  # at most 5 s beyond the backoff
    assert half.delay(1, 0.1) == 0.5  # never below the backoff
    assert half.delay(1, -1.0) == 0.5  # a negative header is ignored
    no_jitter = RetryStrategy(rand=lambda: 0.0)
    assert no_jitter.delay(1, 0.5) == 0.5  # a sub-second Retry-After counts
    assert no_jitter.delay(1, 0.0) == 0.0
    assert [high.delay(n, None) for n in (4, 5)] == [8, 16]


def test_adaptive_rate_drops_on_throttling_and_recovers() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    for _ in range(200):  # 100 requests/s, all fine: the limiter stays off
        now[0] += 0.01
        limiter.record(throttled=False)
    assert not limiter.enabled
    now[0] += 0.01
    limiter.record(throttled=True)
    assert limiter.enabled
    throttled_rate = limiter.rate
    assert 0 < throttled_rate < 100
    for _ in range(5):
        now[0] += 0.05
        limiter.record(throttled=True)
    assert limiter.rate < throttled_rate
    low = limiter.rate
    for _ in range(400):
        now[0] += 0.05
        limiter.record(throttled=False)
    assert limiter.rate > low


def _suspends(call: Coroutine[Any, Any, None]) -> bool:
    """Whether `call` has to wait (for a token) before it can finish; it is then dropped."""
    try:
        call.send(None)
    except StopIteration:
        return False
    call.close()
    return True


def test_only_adaptive_mode_has_a_rate_limiter() -> None:
    assert isinstance(RetryStrategy(mode="adaptive").limiter, RateLimiter)
    assert RetryStrategy(mode="standard").limiter is None


def test_cubic_rate_exactly() -> None:
    """botocore's adaptive mode: measured rate smoothed over 0.5 s buckets (0.8 weight),
    on a throttle rate = 0.7 x measured and K = (W_max x 0.3 / 0.4)^(1/3); after it
    rate = 0.4 (t - K)^3 + W_max, at most twice the measured rate."""
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    for i in range(1, 11):  # 10 requests/s for 1 s: two buckets of 5
        now[0] = i / 10
        limiter.record(throttled=False)
    assert not limiter.enabled
    limiter.record(throttled=True)  # measured: 0.8 x 10 = 8, then 0.8 x 10 + 0.2 x 8 = 9.6
    assert limiter.enabled
    assert limiter.rate == pytest.approx(0.7 * 9.6)
    k = (9.6 * 0.3 / 0.4) ** (1 / 3)
    now[0] = 1.5  # bucket of 2 requests in 0.5 s: measured 0.8 x 4 + 0.2 x 9.6 = 5.12
    limiter.record(throttled=False)
    assert limiter.rate == pytest.approx(0.4 * (0.5 - k) ** 3 + 9.6)
    assert limiter.rate == pytest.approx(8.4279137735)
    now[0] = 3.0  # 1 request in 1.5 s: measured 0.8 / 1.5 + 0.2 x 5.12; capped at twice that
    limiter.record(throttled=False)
    assert limiter.rate == pytest.approx(2 * (0.8 / 1.5 + 0.2 * 5.12))


def test_cubic_rate_never_below_half_a_request_per_second() -> None:
    limiter = RateLimiter(clock=lambda: 0.0)
    limiter.record(throttled=True)  # nothing measured yet
    assert limiter.enabled and limiter.rate == 0.5


async def test_the_limiter_refills_its_bucket_at_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert not _suspends(limiter.acquire())  # disabled until the first throttle
    for i in range(1, 11):
        now[0] = i / 10
        limiter.record(throttled=False)
    limiter.record(throttled=True)  # rate 6.72/s, bucket empty at the throttle
    assert _suspends(limiter.acquire())
    now[0] = 2.0  # one second later: 6.72 tokens
    assert [_suspends(limiter.acquire()) for _ in range(7)] == [False] * 6 + [True]
    now[0] = 100.0  # a long pause refills to the capacity (the rate) and no further
    assert [_suspends(limiter.acquire()) for _ in range(7)] == [False] * 6 + [True]


async def test_the_smallest_bucket_holds_one_token() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    limiter.record(throttled=True)  # 0.5/s, capacity 1
    now[0] = 2.0  # exactly one token
    assert [_suspends(limiter.acquire()) for _ in range(2)] == [False, True]
    now[0] = 100.0
    assert [_suspends(limiter.acquire()) for _ in range(2)] == [False, True]


async def test_the_limiter_waits_for_the_missing_part_of_a_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(delay: float, result: Any = None) -> Any:
        waits.append(delay)  # recorded, not slept: the limiter's clock stands still
        return await real_sleep(0, result)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    limiter = RateLimiter(clock=lambda: 0.0)
    limiter.record(throttled=True)  # 0.5/s, empty
    await limiter.acquire()  # a whole token missing: 2 s
    await limiter.acquire()  # the clock stood still: this one queues behind it, 4 s
    assert waits == [2.0, 4.0]


def test_policy_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="retry mode"):
        RetryStrategy(mode="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^max_attempts must be at least 1$"):
        RetryStrategy(max_attempts=0)


# --- over HTTP --------------------------------------------------------------------------


@pytest.fixture
async def local() -> AsyncIterator[LocalECS]:
    async with LocalECS(seed=5) as server:
        yield server


async def test_clock_skew_is_corrected_from_the_date_header() -> None:
    """A machine whose clock is 30 minutes slow: ECS refuses the signature and answers with its
    own Date; the retry is signed with the server's time, and succeeds."""
    server_now = datetime.now(timezone.utc) + timedelta(minutes=30)
    signed_at: list[datetime] = []

    def ecs(request: HttpRequest) -> HttpResponse:
        stamp = request.headers.get("X-Amz-Date") or request.headers["x-amz-date"]
        signed_at.append(datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc))
        headers = {"Date": format_datetime(server_now, usegmt=True), "x-amzn-RequestId": "r1"}
        if abs(signed_at[-1] - server_now) > timedelta(minutes=5):
            body = b'{"__type":"InvalidSignatureException","message":"Signature expired"}'
            return HttpResponse(403, headers, body)
        return HttpResponse(200, headers, b'{"clusterArns":[]}')

    creds = Credentials(access_key_id="AKID", secret_access_key="secret")
    async with ECSClient(
        region="us-east-1", credentials=creds, max_attempts=2, transport=MockTransport(ecs)
    ) as client:
        out = await client.list_clusters()
    assert out.cluster_arns == []
    assert len(signed_at) == 2
    assert abs(signed_at[0] - server_now) > timedelta(minutes=29)  # our clock, refused
    assert abs(signed_at[1] - server_now) < timedelta(seconds=5)  # the server's, taken


async def test_connection_refused_is_retried_then_typed() -> None:
    creds = Credentials(access_key_id="AKID", secret_access_key="secret")
    url = f"http://127.0.0.1:{free_port()}"  # a port nobody listens on
    no_jitter = RetryStrategy(rand=lambda: 0.0)  # no waiting in tests
    async with ECSClient(
        region="us-east-1", endpoint_url=url, credentials=creds, retry_strategy=no_jitter
    ) as ecs:
        with pytest.raises(TransportError) as caught:
            await ecs.start_task(task_definition="td", container_instances=["ci"])
    assert caught.value.code == "ConnectError" and caught.value.sent is False
    assert "secret" not in str(caught.value)


async def test_quota_refunds_what_the_retry_took(local: LocalECS) -> None:
    from aioecs.testing import Faults

    local.faults = Faults(seed=1, throttle=0.6, operations={"ListClusters"})
    strategy = RetryStrategy(rand=lambda: 0.0)
    async with client_for(local, max_attempts=10, retry_strategy=strategy) as ecs:
        await ecs.list_clusters()
        retries = local.fault_counts["throttle"]
        assert retries >= 1
        # Each retry took 5; the success gives back what the last one took.
        assert strategy.quota.available == QUOTA_CAPACITY - 5 * retries + 5


async def test_closing_during_a_backoff_ends_the_call_cleanly() -> None:
    # A 5xx with a retry-after hint of 5 s: whatever the jitter, the call sleeps 5 s before
    # its second attempt. MockTransport's close() does nothing: only the pipeline can end it.
    recorder = Recorder()
    ecs = _scripted(_answer(500, _SERVER_ERROR, **{"x-amz-retry-after": "5000"}), hooks=recorder)
    call = asyncio.ensure_future(ecs.list_clusters())
    while not recorder.attempts:
        await asyncio.sleep(0.001)
    assert recorder.attempts[0].retry_delay == 5.0
    await ecs.close()
    with pytest.raises(ClientClosedError, match="closed"):
        await call
    assert len(recorder.attempts) == 1  # not sent again after close()
    assert [event.error_code for event in recorder.calls] == ["ClientClosedError"]


# --- which writes are retried, and what a retry costs (botocore's standard mode) -------------

_CLUSTER_ARN = "arn:aws:ecs:us-east-1:123456789012:cluster/c"
_WRITES: dict[str, dict[str, object]] = {
    "update_service": {"service": "web", "desired_count": 2},
    "tag_resource": {"resource_arn": _CLUSTER_ARN, "tags": []},
    "untag_resource": {"resource_arn": _CLUSTER_ARN, "tag_keys": ["k"]},
    "stop_task": {"task": "t"},
    "create_service": {"service_name": "web"},
    "start_task": {"task_definition": "td", "container_instances": ["ci"]},
    "register_task_definition": {"family": "web", "container_definitions": []},
    "register_container_instance": {},
}
_NOT_REPEATED = {"start_task", "register_task_definition", "register_container_instance"}


@pytest.mark.parametrize("method", sorted(_WRITES))
async def test_writes_that_set_a_state_are_retried_after_a_5xx(
    local: LocalECS, method: str
) -> None:
    from aioecs.testing import Faults

    operation = "".join(part.title() for part in method.split("_"))
    local.faults = Faults(server_error=1.0, operations={operation})
    no_jitter = RetryStrategy(rand=lambda: 0.0)
    async with client_for(local, max_attempts=3, retry_strategy=no_jitter) as ecs:
        with pytest.raises(ServerException):
            await getattr(ecs, method)(**_WRITES[method])
    assert local.request_count[operation] == (1 if method in _NOT_REPEATED else 3)


def test_the_operations_not_safe_to_repeat() -> None:
    from aioecs._generated import operations
    from aioecs._spec import OperationSpec

    specs = [v for v in vars(operations).values() if isinstance(v, OperationSpec)]
    assert len(specs) > 80
    assert {spec.name for spec in specs if not spec.safe_to_repeat} == {
        "StartTask",
        "RegisterTaskDefinition",
        "RegisterDaemonTaskDefinition",
        "RegisterContainerInstance",
        "CreateTaskSet",
        "CreateExpressGatewayService",
    }
    assert operations.RUN_TASK.safe_to_repeat  # its clientToken is filled in


async def test_a_timeout_costs_10_and_a_reset_5(local: LocalECS) -> None:
    from aioecs.testing import Faults

    local.faults = Faults(reset_before=1.0, operations={"ListClusters"})
    strategy = RetryStrategy(rand=lambda: 0.0)
    async with client_for(local, max_attempts=3, retry_strategy=strategy) as ecs:
        with pytest.raises(TransportError):
            await ecs.list_clusters()
        assert strategy.quota.available == QUOTA_CAPACITY - 2 * 5
    local.faults = Faults(latency_spike=1.0, spike_ms=300, operations={"ListClusters"})
    strategy = RetryStrategy(rand=lambda: 0.0)
    async with client_for(local, max_attempts=3, read_timeout=0.05, retry_strategy=strategy) as ecs:
        with pytest.raises(TransportError) as caught:
            await ecs.list_clusters()
        assert caught.value.code == "Timeout"
        assert strategy.quota.available == QUOTA_CAPACITY - 2 * 10


# -- the request loop through the transport seam (aioecs._pipeline) ---------------------------


class Recorder:
    def __init__(self) -> None:
        self.attempts: list[AttemptEvent] = []
        self.calls: list[CallEvent] = []

    def on_attempt(self, event: AttemptEvent) -> None:
        self.attempts.append(event)

    def on_call(self, event: CallEvent) -> None:
        self.calls.append(event)


def _scripted(*answers: HttpResponse, hooks: Recorder | None = None, **options: Any) -> ECSClient:
    """A client whose transport gives `answers` in turn (the last one for ever after)."""
    queue = list(answers)

    def handler(request: HttpRequest) -> HttpResponse:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return ECSClient(
        region="eu-west-1",
        endpoint_url="https://ecs.example",
        credentials=Credentials(access_key_id="AKIDLOOP", secret_access_key="s"),
        transport=MockTransport(handler),
        hooks=[hooks] if hooks else [],
        rate_limits=False,
        **options,
    )


def _answer(status: int, body: bytes, **headers: str) -> HttpResponse:
    return HttpResponse(status, {"x-amzn-RequestId": "rid-1", **headers}, body)


_SERVER_ERROR = b'{"__type": "ServerException", "message": "boom"}'
_THROTTLED = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'
_OK = b'{"clusterArns": []}'


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The pauses the client asks the event loop for, recorded instead of slept."""
    asked: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(delay: float, result: Any = None) -> Any:
        if delay:
            asked.append(delay)
        return await real_sleep(0, result)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    return asked


@pytest.mark.parametrize(
    ("header", "low", "high"), [("1500", 1.5, 1.5), ("soon", 0.0, 1.0), (None, 0.0, 1.0)]
)
async def test_the_retry_after_header_in_milliseconds(
    pauses: list[float], header: str | None, low: float, high: float
) -> None:
    recorder = Recorder()
    extra = {"x-amz-retry-after": header} if header else {}
    async with _scripted(
        _answer(500, _SERVER_ERROR, **extra), _answer(200, _OK), hooks=recorder
    ) as ecs:
        await ecs.list_clusters()
    delay = recorder.attempts[0].retry_delay
    assert delay is not None and low <= delay <= high and delay < 5
    assert pauses == ([delay] if delay else [])


async def test_what_a_call_ends_with(pauses: list[float]) -> None:
    recorder = Recorder()
    async with _scripted(
        _answer(400, _THROTTLED), hooks=recorder, max_attempts=2, retry_mode="standard"
    ) as ecs:
        with pytest.raises(ThrottlingException) as throttled:
            await ecs.run_task(task_definition="web")
    error = throttled.value
    assert error.message == "Rate exceeded (2 attempts)"
    assert (error.code, error.request_id, error.status) == ("ThrottlingException", "rid-1", 400)
    call = recorder.calls[-1]
    assert (call.status, call.request_id, call.error_code, call.attempts, call.throttled) == (
        400, "rid-1", "ThrottlingException", 2, 2,
    )  # fmt: skip
    async with _scripted(_answer(200, b'{"tasks": [')) as ecs:
        with pytest.raises(ResponseError) as cut:
            await ecs.start_task(task_definition="web", container_instances=["ci"])
        assert cut.value.message == (
            "response is not JSON (11 bytes); StartTask may have been processed: check before"
            " repeating it"
        )
        assert (cut.value.code, cut.value.request_id, cut.value.status) == (
            "InvalidResponse", "rid-1", 200,
        )  # fmt: skip
        with pytest.raises(ResponseError) as safe:  # a safe call says no more than it saw
            await ecs.list_clusters()
        assert safe.value.message == "response is not JSON (11 bytes)"


async def test_the_call_event_of_a_success_a_failure_and_a_cancelled_call() -> None:
    recorder = Recorder()
    before = time.time()
    async with _scripted(_answer(200, _OK), hooks=recorder) as ecs:
        await ecs.list_clusters()
    call = recorder.calls[0]
    assert (call.status, call.request_id, call.error_code, call.attempts) == (200, "rid-1", None, 1)
    assert before <= call.started <= call.started + call.duration <= time.time()
    assert recorder.attempts[0].paced == 0.0

    missing = b'{"__type": "ClusterNotFoundException", "message": "no"}'
    async with _scripted(_answer(400, missing), hooks=recorder) as ecs:
        with pytest.raises(ClusterNotFoundException):
            await ecs.list_tasks(cluster="nope")
    call = recorder.calls[-1]
    assert (call.status, call.request_id, call.error_code) == (
        400,
        "rid-1",
        "ClusterNotFoundException",
    )

    started = asyncio.Event()

    async def never(request: HttpRequest) -> HttpResponse:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async with ECSClient(
        region="eu-west-1",
        endpoint_url="https://ecs.example",
        credentials=Credentials(access_key_id="AKIDLOOP", secret_access_key="s"),
        transport=MockTransport(never),
        hooks=[recorder],
    ) as ecs:
        call_task = asyncio.ensure_future(ecs.list_clusters())
        await started.wait()
        call_task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call_task
    call = recorder.calls[-1]
    assert (call.status, call.request_id, call.error_code) == (None, None, "Cancelled")


async def test_what_the_debug_log_says_of_a_retried_call(
    pauses: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aioecs")
    async with _scripted(
        _answer(500, _SERVER_ERROR, **{"x-amz-retry-after": "1500"}), _answer(200, _OK)
    ) as ecs:
        await ecs.list_clusters()
    messages = [r.getMessage() for r in caplog.records if r.name == "aioecs"]
    assert messages == [
        "ListClusters attempt 1 failed: ServerException: boom (HTTP 500, request id rid-1)",
        "retrying ListClusters after ServerException (attempt 1 of 3, in 1.50s, request id rid-1)",
        "ListClusters ok: 19 bytes, request id rid-1",
    ]
    caplog.clear()
    skewed = b'{"__type": "RequestTimeTooSkewed", "message": "late"}'
    date = "Mon, 01 Jan 2001 00:00:00 GMT"
    async with _scripted(_answer(403, skewed, Date=date), _answer(200, _OK)) as ecs:
        await ecs.list_clusters()
    skew = [r.getMessage() for r in caplog.records if "clock skew" in r.getMessage()]
    assert len(skew) == 1
    assert re.fullmatch(r"clock skew of -\d+ s corrected from the server's Date header", skew[0])


async def test_an_answer_that_does_not_fit_the_model_names_the_operation() -> None:
    async with _scripted(_answer(200, b'{"clusterArns": 5}')) as ecs:
        with pytest.raises(ResponseError) as caught:
            await ecs.list_clusters()
    cause = caught.value.__cause__
    assert cause is not None
    assert caught.value.message == (
        f"ListClusters response does not match the model: {type(cause).__name__}"
    )
    assert caught.value.request_id == "rid-1"


async def test_an_idempotency_token_is_filled_once_per_call(pauses: list[float]) -> None:
    bodies: list[dict[str, Any]] = []
    answers = [_answer(500, _SERVER_ERROR), _answer(200, b'{"tasks": [], "failures": []}')]

    def handler(request: HttpRequest) -> HttpResponse:
        bodies.append(json.loads(request.body))
        return answers.pop(0)

    async with ECSClient(
        region="eu-west-1",
        endpoint_url="https://ecs.example",
        credentials=Credentials(access_key_id="AKIDLOOP", secret_access_key="s"),
        transport=MockTransport(handler),
        rate_limits=False,
    ) as ecs:
        await ecs.run_task(task_definition="web")
        token = bodies[0]["clientToken"]
        assert len(token) == 36 and bodies[1]["clientToken"] == token  # the retry carries it
        answers.append(_answer(200, b'{"tasks": []}'))
        await ecs.run_task(task_definition="web", client_token="mine")
        assert bodies[2]["clientToken"] == "mine"


# -- errors classified once, when parsed; the strategy alone decides (issue 19) ----------------


@pytest.mark.parametrize(
    ("status", "body", "facts"),
    [
        (400, b'{"__type": "ThrottlingException"}', (True, False, False, False)),
        (400, b'{"__type": "LimitExceededException"}', (True, False, False, False)),
        (429, b'{"__type": "SlowDownPlease"}', (True, False, False, False)),
        (503, b'{"__type": "ServiceUnavailable"}', (False, True, False, True)),
        (400, b'{"__type": "RequestTimeout"}', (False, True, False, True)),
        (403, b'{"__type": "InvalidSignatureException"}', (False, False, True, False)),
        (400, b'{"__type": "ClusterNotFoundException"}', (False, False, False, False)),
    ],
)
def test_errors_carry_their_retry_facts_from_parsing(
    status: int, body: bytes, facts: tuple[bool, bool, bool, bool]
) -> None:
    from aioecs import _protocol
    from aioecs.errors import MODELED_ERRORS

    error = _protocol.parse_error(status, {}, body, MODELED_ERRORS)
    assert (error.throttling, error.transient, error.clock_skew, error.maybe_processed) == facts


def test_lost_answers_say_whether_ecs_may_have_acted() -> None:
    assert TransportError("", code="ConnectionLost", sent=True).maybe_processed
    assert not TransportError("", code="ConnectError", sent=False).maybe_processed
    assert ResponseError("cut short", code="InvalidResponse", status=200).maybe_processed
    assert isinstance(LimitExceededException("", status=400), ThrottlingException)


async def test_the_strategy_persists_with_a_throttled_read_without_spending_the_quota() -> None:
    from aioecs._limits import Pacer, Quota

    strategy = RetryStrategy(max_attempts=2, rand=lambda: 0.0)
    token = strategy.acquire_token("ListTasks", safe_to_repeat=True, readonly=True)
    pacer = Pacer(Quota(10, 1000), time.monotonic)
    for _ in range(5):  # beyond max_attempts
        await strategy.pace(token, pacer)
        assert strategy.refresh_token(token, _throttle()) and token.delay == 0.0
    assert (token.attempts, token.free, token.counts.throttled) == (5, 5, 5)
    assert strategy.quota.available == QUOTA_CAPACITY  # throttling took nothing
    # Those five did not count: a 5xx now is the call's first counted failure of two.
    await strategy.pace(token, pacer)
    assert strategy.refresh_token(token, ServerException("", status=503)) and token.cost == 5
    # Without a pacer (pacing off), the same read is an ordinary retry: costed, bounded.
    write = strategy.acquire_token("StopTask", safe_to_repeat=True, readonly=False)
    await strategy.pace(write, pacer)
    assert strategy.refresh_token(write, _throttle()) and write.cost == 5
    await strategy.pace(write, pacer)
    assert not strategy.refresh_token(write, _throttle())  # 2 attempts made
    assert write.counts.retried == 1 and write.counts.sent == 2


async def test_the_strategy_retries_a_corrected_clock_skew_at_once_and_honours_deadlines() -> None:
    strategy = RetryStrategy(max_attempts=2, rand=lambda: 1.0)
    skewed = ECSError("signature expired", code="InvalidSignatureException", status=403)
    token = strategy.acquire_token("StartTask", safe_to_repeat=False, readonly=False)
    await strategy.pace(token, None)
    assert not strategy.refresh_token(token, skewed)  # not corrected: not retried
    assert strategy.refresh_token(token, skewed, skew_corrected=True) and token.delay == 0
    assert token.cost is None  # free of the quota
    late = strategy.acquire_token("ListTasks", safe_to_repeat=True, readonly=True)
    await strategy.pace(late, None)
    assert not strategy.refresh_token(late, _throttle(), deadline=time.monotonic() - 1)
    assert strategy.refresh_token(late, _throttle(), retry_after=0.25)
    assert late.delay == 1.0  # full jitter of the first backoff (rand 1.0), above the hint


def test_a_strategy_takes_the_clients_settings_for_what_it_was_not_given() -> None:
    strategy = RetryStrategy(rand=lambda: 0.0)
    strategy.settle("adaptive", 7)
    assert (strategy.mode, strategy.max_attempts) == ("adaptive", 7)
    assert isinstance(strategy.limiter, RateLimiter)
    fixed = RetryStrategy(max_attempts=2)
    fixed.settle("standard", 9)
    assert fixed.max_attempts == 2
    assert fixed.given(None, 3) and not fixed.given("adaptive", None)
    assert not RetryStrategy(mode="adaptive").given(None, 3)
    with pytest.raises(ValueError, match="not both"):
        ECSClient(max_attempts=3, retry_strategy=RetryStrategy(max_attempts=2))
    with pytest.raises(TypeError, match="RetryStrategy"):
        ECSClient(retry_strategy=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 1"):
        ECSClient(max_attempts=0)
    ECSClient(retry_mode="adaptive", retry_strategy=RetryStrategy(max_attempts=2))
