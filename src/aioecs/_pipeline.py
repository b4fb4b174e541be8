"""The one request path: build → validate → encode → sign → pace/send/retry → parse → decode.

Every call goes through `Pipeline`: the generated methods (`call`), and the fan-out, watch,
paginators and waiters (`send_json`, for ListTasks/DescribeTasks pages already in wire form).
Nothing here reaches back into the client; the client builds one pipeline when it connects.
Retry state (the server's clock, a retry-after hint) lives in the loop, not on exceptions.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar

from . import _limits, _protocol, _retry, serde
from ._exceptions import CallError, ResponseError, ThrottlingException, TransportError
from ._observe import AttemptEvent, CallEvent, Hook, notify_attempt, notify_call
from ._transport import HttpRequest, HttpResponse, Transport

if TYPE_CHECKING:
    from ._config import ResolvedConfig
    from ._credentials import CredentialProvider, Credentials
    from ._signing import SigV4Signer
    from ._spec import OperationSpec, ServiceSpec

__all__ = ["Pipeline"]

_Out = TypeVar("_Out")
_UTC = timezone.utc
_log = logging.getLogger("aioecs")
_SKEW_TOLERANCE = timedelta(seconds=60)


class Pipeline:
    """One client's path to ECS: its signer, credentials, retry policy, pacing and transport,
    and the service it speaks to (the target prefix and modeled errors, from `service`)."""

    def __init__(
        self,
        *,
        service: ServiceSpec,
        config: ResolvedConfig,
        signer: SigV4Signer,
        credentials: CredentialProvider,
        retry: _retry.RetryPolicy,
        rate_limits: Mapping[str, _limits.Quota] | None,
        total_timeout: float | None,
        transport: Transport,
        hooks: Sequence[Hook],
    ) -> None:
        self.service = service
        self.config = config
        self.retry = retry
        self.transport = transport
        self._signer = signer
        self._credentials = credentials
        self._rate_limits = rate_limits
        self._total_timeout = total_timeout
        self._hooks = tuple(hooks)
        self._clock_offset = timedelta(0)  # server clock minus ours, learnt from skew errors

    def __repr__(self) -> str:
        config = self.config
        return (
            f"<Pipeline region={config.region!r} endpoint={config.endpoint_url!r} "
            f"signer={self._signer!r} transport={self.transport!r} hooks={len(self._hooks)}>"
        )

    # -- build, validate, encode; parse, decode ------------------------------------------------

    async def call(self, spec: OperationSpec[Any, _Out], params: dict[str, Any]) -> _Out:
        """A generated method's call: a typed request in, a typed response out."""
        token = spec.idempotency_token
        if token is not None and params.get(token) is None:
            # Filled once per call, so every retry of it carries the same token.
            params = {**params, token: str(uuid.uuid4())}
        from ._validate import validate  # loaded with the first call, not with `import aioecs`

        request = serde.build_request(spec.name, spec.input, params)
        validate(spec, request)
        body = _protocol.encode_body(serde.encode(request))
        reply = await self.send(
            spec.name, body, safe_to_repeat=spec.safe_to_repeat, readonly=spec.readonly
        )
        try:
            return serde.decode(spec.output, _protocol.parse_body(reply))
        except Exception as exc:  # a response that does not fit the model
            raise _protocol.not_the_model(f"{spec.name} response", exc, reply.request_id) from exc

    async def send_json(
        self,
        operation: str,
        params: dict[str, Any],
        counts: _retry.RequestCounts | None = None,
        deadline: float | None = None,
    ) -> Any:
        """A read-only call in wire form (the fan-out's and the watch's ListTasks and
        DescribeTasks): parameters already encoded, the answer as parsed JSON."""
        reply = await self.send(
            operation,
            _protocol.encode_body(params),
            safe_to_repeat=True,
            readonly=True,
            counts=counts,
            deadline=deadline,
        )
        return _protocol.parse_body(reply)

    # -- pace, send, retry -----------------------------------------------------------------------

    async def send(
        self,
        operation: str,
        body: bytes,
        *,
        safe_to_repeat: bool = False,
        readonly: bool = False,
        counts: _retry.RequestCounts | None = None,
        deadline: float | None = None,
    ) -> _protocol.Reply:
        """Send one call, paced and retried: the reply of a success, or the last error raised.

        Every attempt first takes a token from the pacer of the operation's throttling
        category (`_limits`). What is retried, and when, is `_retry.RetryPolicy`'s call;
        `safe_to_repeat` says whether the operation may be repeated after an attempt that may
        have been processed. A throttled read-only call is retried beyond `max_attempts`,
        paced, without spending the retry quota, until `deadline` (`time.monotonic()`;
        default: the client's `total_timeout`) or until its bucket has let nothing through for
        `_limits.STALLED` seconds.
        """
        clock = time.monotonic  # the pacers' clock, shared by every loop in the process
        started = clock()
        if deadline is None and self._total_timeout is not None:
            deadline = started + self._total_timeout
        policy = self.retry
        counts = counts if counts is not None else _retry.RequestCounts()
        hooks = self._hooks
        throttled_before = counts.throttled
        attempts = 0  # every attempt, for the hooks
        attempt = 0  # attempts that count against max_attempts
        cost: int | None = None  # what the last retry took from the quota
        error: CallError | None = None
        reply: _protocol.Reply | None = None
        try:
            while True:
                attempt += 1
                attempts += 1
                credentials = await self._credentials.get()
                pacer = self._pacer(operation, credentials.access_key_id)
                sent_at, wait, reservation = clock(), 0.0, None
                if pacer is not None:
                    wait, sent_at = reservation = pacer.reserve()
                try:
                    if wait > 0:
                        await asyncio.sleep(wait)
                    if policy.limiter is not None:
                        await policy.limiter.acquire()
                except BaseException:
                    if pacer is not None and reservation is not None:
                        pacer.release(reservation)  # never sent: its token goes back
                    raise
                counts.sent += 1
                exchanged = clock()
                error, response = None, None
                try:
                    response = await self._attempt(operation, body, credentials)
                    if response.status >= 300:
                        raise _protocol.parse_error(
                            *response, self.service.errors, credentials.secrets
                        )
                    reply = _protocol.parsed(response.body, _protocol.request_id(response.headers))
                except CallError as failed:
                    error = failed
                retry_delay = None if error is None else self._retry_delay(
                    operation, error, response, attempt, pacer, sent_at, started, deadline,
                    readonly, safe_to_repeat, counts,
                )  # fmt: skip
                if hooks:
                    self._attempted(attempts, operation, clock() - exchanged, wait, response,
                                    error, retry_delay)  # fmt: skip
                if error is None:
                    assert reply is not None
                    break
                if retry_delay is None:
                    final = _final(operation, error, attempts, safe_to_repeat)
                    if final is error:
                        raise error
                    raise final from error
                if retry_delay.cost is not None:
                    cost = retry_delay.cost
                if not retry_delay.counts:
                    attempt -= 1  # a throttled read: it does not count against max_attempts
                counts.retried += 1
                if retry_delay.seconds > 0:
                    await asyncio.sleep(retry_delay.seconds)
        finally:
            if hooks:
                self._called(operation, started, attempts, reply, error,
                             counts.throttled - throttled_before)  # fmt: skip
        if pacer is not None:
            pacer.succeeded(sent_at)
        if policy.limiter is not None:
            policy.limiter.record(False)
        policy.succeeded(cost)
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("%s ok: %d bytes, request id %s", operation, len(reply.body),
                       reply.request_id)  # fmt: skip
        return reply

    def _retry_delay(
        self,
        operation: str,
        error: CallError,
        response: HttpResponse | None,
        attempt: int,
        pacer: _limits.Pacer | None,
        sent_at: float,
        started: float,
        deadline: float | None,
        readonly: bool,
        safe_to_repeat: bool,
        counts: _retry.RequestCounts,
    ) -> _Retry | None:
        """Whether and when to try a failed attempt again (None: give up)."""
        _log.debug("%s attempt %d failed: %s", operation, attempt, error)
        policy = self.retry
        throttled = _retry.classify(error) == "throttling"
        if policy.limiter is not None:
            policy.limiter.record(throttled)
        if throttled:
            counts.throttled += 1
            if pacer is not None:
                pacer.throttled(sent_at)
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return None  # the call's time is up, whatever the failure
        if throttled and pacer is not None and readonly and _persist(pacer, started, now):
            return _Retry(0.0, counts=False)  # paced by the mirror, which is empty now
        headers: Mapping[str, str] = response.headers if response is not None else {}
        if error.code in _retry.CLOCK_SKEW_CODES and self._correct_skew(headers.get("Date")):
            return _Retry(0.0) if attempt < policy.max_attempts else None
        cost = policy.retry_cost(error, attempt, safe_to_repeat)
        if cost is None:
            return None
        pause = policy.delay(attempt, error, _retry_after(headers))
        _log.debug(
            "retrying %s after %s (attempt %d of %d, in %.2fs, request id %s)",
            operation, error.code, attempt, policy.max_attempts, pause, error.request_id,
        )  # fmt: skip
        return _Retry(pause, cost=cost)

    def _pacer(self, operation: str, access_key_id: str) -> _limits.Pacer | None:
        if self._rate_limits is None:
            return None
        config = self.config
        pacing = _limits.pacing_for(
            access_key_id, config.region, config.endpoint_url, self._credentials
        )
        return pacing.pacer(self.service.category_of(operation), self._rate_limits)

    # -- sign, send, parse -----------------------------------------------------------------------

    async def _attempt(self, operation: str, body: bytes, credentials: Credentials) -> HttpResponse:
        """One signed exchange: the response, whatever its status; `TransportError` if lost.

        The caller parses the body inside the attempt, so that a 200 whose JSON was cut short
        (a proxy closing early) is a failed attempt, retried like a dropped connection.
        """
        config = self.config
        headers = self._signer.sign(
            method="POST",
            path=config.path,
            query="",
            headers=_protocol.request_headers(self.service.target_prefix, operation, config.host),
            body=body,
            credentials=credentials,
            now=datetime.now(_UTC) + self._clock_offset,
        )
        return await self.transport.send(HttpRequest("POST", config.request_url, headers, body))

    def _correct_skew(self, server_date: str | None) -> bool:
        """Adopt the server's clock after a skew rejection; True if the offset changed."""
        if not server_date:
            return False
        try:
            server_now = parsedate_to_datetime(server_date)
        except (TypeError, ValueError):
            return False
        offset = server_now - datetime.now(_UTC)
        if abs(offset - self._clock_offset) < _SKEW_TOLERANCE:
            return False
        _log.debug("clock skew of %.0f s corrected from the server's Date header",
                   offset.total_seconds())  # fmt: skip
        self._clock_offset = offset
        return True

    # -- hooks -----------------------------------------------------------------------------------

    def _attempted(
        self,
        attempt: int,
        operation: str,
        duration: float,
        paced: float,
        response: HttpResponse | None,
        error: CallError | None,
        retry: _Retry | None,
    ) -> None:
        notify_attempt(
            self._hooks,
            AttemptEvent(
                operation=operation,
                attempt=attempt,
                duration=duration,
                paced=paced,
                status=response.status if response is not None else None,
                request_id=_protocol.request_id(response.headers) if response else None,
                error_code=error.code if error is not None else None,
                throttled=error is not None and _retry.classify(error) == "throttling",
                retry_delay=retry.seconds if retry is not None else None,
            ),
        )

    def _called(
        self,
        operation: str,
        started: float,
        attempts: int,
        reply: _protocol.Reply | None,
        error: CallError | None,
        throttled: int,
    ) -> None:
        duration = time.monotonic() - started
        ok = error is None and reply is not None
        notify_call(
            self._hooks,
            CallEvent(
                operation=operation,
                started=time.time() - duration,
                duration=duration,
                attempts=attempts,
                status=200 if ok else getattr(error, "status", None),
                request_id=reply.request_id if ok and reply else getattr(error, "request_id", None),
                error_code=None if ok else (error.code if error is not None else "Cancelled"),
                throttled=throttled,
                region=self.config.region,
            ),
        )


class _Retry:
    """Try again after `seconds`; `counts`: whether the attempt counts against max_attempts,
    and `cost` what the retry took from the quota."""

    __slots__ = ("cost", "counts", "seconds")

    def __init__(self, seconds: float, *, counts: bool = True, cost: int | None = None) -> None:
        self.seconds = seconds
        self.counts = counts
        self.cost = cost


def _persist(pacer: _limits.Pacer, started: float, now: float) -> bool:
    """Whether a throttled read-only call keeps trying: while ECS makes progress (its bucket
    let a request through in the last `STALLED` seconds, or the call is younger than that)."""
    return now - max(pacer.last_success, started) < _limits.STALLED


def _final(operation: str, error: CallError, attempts: int, safe_to_repeat: bool) -> CallError:
    """The error a call ends with: throttling as `ThrottlingException` with the attempts made,
    and a lost answer to a call that is not safe to repeat saying it may have taken effect."""
    kind = _retry.classify(error)
    if kind == "throttling":
        return ThrottlingException(
            f"{error.message} ({attempts} attempt{'s' if attempts != 1 else ''})",
            code=error.code,
            request_id=error.request_id,
            status=error.status,
        )
    if kind == "maybe_processed" and not safe_to_repeat:
        message = f"{error.message}; {operation} may have been processed: check before repeating it"
        if isinstance(error, ResponseError):
            return ResponseError(
                message, code=error.code, request_id=error.request_id, status=error.status
            )
        if isinstance(error, TransportError):  # a connection lost once the request was sent
            return TransportError(message, code=error.code, sent=True)
    return error


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("x-amz-retry-after")
    try:
        return int(value) / 1000 if value is not None else None
    except ValueError:
        return None
