"""OpenTelemetry for aioecs: a span per call and request metrics, from the client's hooks.

    from aioecs.telemetry import OpenTelemetryHook
    ECSClient(region="eu-west-1", hooks=[OpenTelemetryHook()])

Needs `opentelemetry-api` (the `otel` extra); spans and metrics go wherever the application's
OpenTelemetry SDK sends them. Names follow OpenTelemetry's semantic conventions for AWS SDK
calls: a CLIENT span `ECS/<Operation>` with `rpc.system="aws-api"`, `rpc.service="ECS"`,
`rpc.method`, `aws.request_id`, `cloud.region` and `http.response.status_code`; on failure the
span status is ERROR and `error.type` the ECS error code. Metrics: `rpc.client.duration`
(milliseconds per call) and `aws.ecs.throttled` (attempts ECS answered throttled).
"""

from __future__ import annotations

from typing import Any

from ._observe import AttemptEvent, CallEvent

__all__ = ["OpenTelemetryHook"]


class OpenTelemetryHook:
    """A hook (`ECSClient(hooks=[...])`) that reports each call to OpenTelemetry.

    `tracer_provider` and `meter_provider` default to the global ones. Spans are recorded
    when a call ends, with the call's real start and end times.
    """

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        try:
            from opentelemetry import metrics, trace
        except ImportError:  # pragma: no cover - the message is the point
            raise ImportError(
                "OpenTelemetryHook needs opentelemetry-api: pip install 'aioecs[otel]'"
            ) from None
        from aioecs import __version__

        self._trace = trace
        self._tracer = trace.get_tracer("aioecs", __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter("aioecs", __version__, meter_provider=meter_provider)
        self._duration = meter.create_histogram(
            "rpc.client.duration", unit="ms", description="ECS calls, retries included"
        )
        self._throttled = meter.create_counter(
            "aws.ecs.throttled", unit="{attempt}", description="Attempts answered throttled"
        )

    def __repr__(self) -> str:
        return "OpenTelemetryHook()"

    def on_attempt(self, event: AttemptEvent) -> None:
        if event.throttled:
            self._throttled.add(
                1, {"rpc.system": "aws-api", "rpc.service": "ECS", "rpc.method": event.operation}
            )

    def on_call(self, event: CallEvent) -> None:
        attributes: dict[str, Any] = {
            "rpc.system": "aws-api",
            "rpc.service": event.service,
            "rpc.method": event.operation,
            "cloud.region": event.region,
            "aws.ecs.attempts": event.attempts,
        }
        if event.request_id:
            attributes["aws.request_id"] = event.request_id
        if event.status is not None:
            attributes["http.response.status_code"] = event.status
        if event.error_code:
            attributes["error.type"] = event.error_code
        start = int(event.started * 1e9)
        span = self._tracer.start_span(
            f"{event.service}/{event.operation}",
            kind=self._trace.SpanKind.CLIENT,
            attributes=attributes,
            start_time=start,
        )
        if event.error_code:
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, event.error_code))
        span.end(end_time=start + int(event.duration * 1e9))
        self._duration.record(
            event.duration * 1000,
            {k: v for k, v in attributes.items() if k != "aws.request_id"},
        )
