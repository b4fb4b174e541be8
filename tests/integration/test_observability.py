"""Hooks, the transport seam and OpenTelemetry: what a program sees of each call."""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

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
from aioecs.errors import ClusterNotFoundException, TransportError
from aioecs.telemetry import OpenTelemetryHook
from aioecs.testing import Faults, LocalECS

from ..servers import client_for

CREDS = Credentials(access_key_id="AKIDMOCK", secret_access_key="mock-secret")


class Recorder:
    def __init__(self) -> None:
        self.attempts: list[AttemptEvent] = []
        self.calls: list[CallEvent] = []

    def on_attempt(self, event: AttemptEvent) -> None:
        self.attempts.append(event)

    def on_call(self, event: CallEvent) -> None:
        self.calls.append(event)


def _mock_client(handler: object, **options: object) -> ECSClient:
    return ECSClient(
        region="eu-west-1",
        endpoint_url="https://ecs.example",
        credentials=CREDS,
        transport=MockTransport(handler),  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )


async def test_mock_transport_answers_without_a_server() -> None:
    seen: list[HttpRequest] = []

    def handler(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return HttpResponse(200, {"x-amzn-RequestId": "r-1"}, b'{"clusterArns": ["arn:c"]}')

    async with _mock_client(handler) as ecs:
        out = await ecs.list_clusters()
    assert out.cluster_arns == ["arn:c"]
    (request,) = seen
    assert (request.method, request.url, request.operation) == (
        "POST",
        "https://ecs.example/",
        "ListClusters",
    )
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDMOCK/")
    assert json.loads(request.body) == {}


async def test_an_async_handler_and_a_lost_answer() -> None:
    calls = 0

    async def handler(request: HttpRequest) -> HttpResponse:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise TransportError("ListClusters: reset", code="ConnectionLost", sent=True)
        return HttpResponse(200, {}, b"{}")

    no_jitter = RetryStrategy(rand=lambda: 0.0)
    async with _mock_client(handler, max_attempts=2, retry_strategy=no_jitter) as ecs:
        assert (await ecs.list_clusters()).cluster_arns == []
    assert calls == 2


async def test_hooks_see_every_attempt_and_one_event_per_call() -> None:
    answers = [
        HttpResponse(400, {"x-amzn-RequestId": "r-1"}, b'{"__type": "ThrottlingException"}'),
        HttpResponse(503, {"x-amzn-RequestId": "r-2"}, b'{"__type": "ServiceUnavailable"}'),
        HttpResponse(200, {"x-amzn-RequestId": "r-3"}, b'{"taskArns": []}'),
    ]

    def handler(request: HttpRequest) -> HttpResponse:
        return answers.pop(0)

    recorder = Recorder()
    no_jitter = RetryStrategy(rand=lambda: 0.0)
    async with _mock_client(
        handler, hooks=[recorder], rate_limits=False, retry_strategy=no_jitter
    ) as ecs:
        await ecs.list_tasks(cluster="prod")
    assert [(a.attempt, a.status, a.error_code, a.throttled) for a in recorder.attempts] == [
        (1, 400, "ThrottlingException", True),
        (2, 503, "ServiceUnavailable", False),
        (3, 200, None, False),
    ]
    assert [a.retry_delay for a in recorder.attempts] == [0.0, 0.0, None]
    assert all(a.operation == "ListTasks" and a.duration >= 0 for a in recorder.attempts)
    assert [a.request_id for a in recorder.attempts] == ["r-1", "r-2", "r-3"]
    (call,) = recorder.calls
    assert (call.operation, call.attempts, call.status, call.request_id, call.error_code) == (
        "ListTasks",
        3,
        200,
        "r-3",
        None,
    )
    assert (call.throttled, call.region, call.service) == (1, "eu-west-1", "ECS")
    assert call.duration >= sum(a.duration for a in recorder.attempts)


async def test_a_failing_hook_never_breaks_a_call(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def on_attempt(self, event: AttemptEvent) -> None:
            raise RuntimeError("hook bug")

        def on_call(self, event: CallEvent) -> None:
            raise RuntimeError("hook bug")

    async with _mock_client(lambda r: HttpResponse(200, {}, b"{}"), hooks=[Broken()]) as ecs:
        assert (await ecs.list_clusters()).cluster_arns == []
    assert [r.getMessage().split(" failed on ")[1] for r in caplog.records] == [
        "an attempt event",
        "a call event",
    ]
    with pytest.raises(TypeError, match="on_attempt and on_call"):
        ECSClient(hooks=[object()])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"aioecs\.Transport"):
        ECSClient(transport=object())  # type: ignore[arg-type]


async def test_opentelemetry_spans_and_metrics_follow_the_aws_sdk_conventions() -> None:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    hook = OpenTelemetryHook(tracer_provider, MeterProvider(metric_readers=[reader]))
    async with LocalECS(seed=1) as local, client_for(local, hooks=[hook]) as ecs:
        local.faults = Faults(seed=1, throttle=0.5, operations={"ListClusters"})
        await ecs.list_clusters()
        with pytest.raises(ClusterNotFoundException):
            await ecs.list_tasks(cluster="nope")
    ok, failed = exporter.get_finished_spans()
    assert ok.name == "ECS/ListClusters" and ok.kind == SpanKind.CLIENT
    assert ok.attributes is not None and failed.attributes is not None
    assert {k: ok.attributes[k] for k in ("rpc.system", "rpc.service", "rpc.method")} == {
        "rpc.system": "aws-api",
        "rpc.service": "ECS",
        "rpc.method": "ListClusters",
    }
    assert ok.attributes["cloud.region"] == "us-east-1"
    assert ok.attributes["http.response.status_code"] == 200
    assert isinstance(ok.attributes["aws.request_id"], str)
    assert ok.status.status_code == StatusCode.UNSET
    assert failed.name == "ECS/ListTasks" and failed.status.status_code == StatusCode.ERROR
    assert failed.attributes["error.type"] == "ClusterNotFoundException"
    assert failed.attributes["http.response.status_code"] == 400
    assert ok.end_time is not None and ok.start_time is not None and ok.end_time > ok.start_time
    metrics = reader.get_metrics_data()
    assert metrics is not None
    names = {
        metric.name: metric
        for resource in metrics.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    assert set(names) == {"rpc.client.duration", "aws.ecs.throttled"}
    throttled = sum(p.value for p in names["aws.ecs.throttled"].data.data_points)  # type: ignore[attr-defined]
    assert throttled == local.fault_counts["throttle"] >= 1
    durations = names["rpc.client.duration"].data.data_points  # type: ignore[attr-defined]
    assert sum(p.count for p in durations) == 2
