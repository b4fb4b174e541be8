"""The one request path: build → validate → encode → sign → pace/send/retry → parse → decode.

Every call goes through `Pipeline`: the generated methods (`call`), and the fan-out, watch,
paginators and waiters (`send_json`, for pages of read-only calls already in wire form).
Nothing here reaches back into the client; the client builds one pipeline when it connects.
Retry state (the server's clock, a retry-after hint) lives in the loop, not on exceptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from . import _limits, _protocol, _retry, serde
from ._exceptions import (
    CallError,
    ClientClosedError,
    DeadlineExceeded,
    ResponseError,
    ThrottlingException,
    TransportError,
)
from ._observe import AttemptEvent, CallEvent, Hook, notify_attempt, notify_call
from ._transport import HttpRequest, HttpResponse, Transport

if TYPE_CHECKING:
    from ._config import ResolvedConfig
    from ._credentials import CredentialProvider, Credentials
    from ._signing import SigV4Signer
    from ._spec import OperationSpec, ServiceSpec

__all__ = ["Deadline", "Pipeline"]

_Out = TypeVar("_Out")
_UTC = timezone.utc
_log = logging.getLogger("aioecs")
_SKEW_TOLERANCE = timedelta(seconds=60)


class Pipeline:
    """One client's path to ECS: its signer, credentials, retry strategy, pacing and transport,
    and the service it speaks to (the target prefix and modeled errors, from `service`)."""

    def __init__(
        self,
        *,
        service: ServiceSpec,
        config: ResolvedConfig,
        signer: SigV4Signer,
        credentials: CredentialProvider,
        retry: _retry.RetryStrategy,
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
        self._closed = False
        self._inflight: dict[asyncio.Task[Any], _Call] = {}  # the tasks inside `send`
        self._idle = asyncio.Event()  # set once close() has seen every call end

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
        deadline: Deadline | float | None = None,
    ) -> Any:
        """A read-only call in wire form (the pages of the fan-out and the watch):
        parameters already encoded, the answer as parsed JSON."""
        reply = await self.send(
            operation,
            _protocol.encode_body(params),
            safe_to_repeat=True,
            readonly=True,
            counts=counts,
            deadline=deadline,
        )
        return _protocol.parse_body(reply)

    # -- deadline, close, cancellation ----------------------------------------------------------

    async def send(
        self,
        operation: str,
        body: bytes,
        *,
        safe_to_repeat: bool = False,
        readonly: bool = False,
        counts: _retry.RequestCounts | None = None,
        deadline: Deadline | float | None = None,
    ) -> _protocol.Reply:
        """Send one call, paced and retried: the reply of a success, or the call's error.

        `deadline` (a `Deadline`, or a `time.monotonic()` time) and the client's
        `total_timeout`, whichever comes first, are hard: the attempt in flight, a pacer's
        wait or a back-off is cut when it passes (`DeadlineExceeded`). `close()` ends the call
        at once with `ClientClosedError`. Retries: see `_retried`.
        """
        if self._closed:
            raise ClientClosedError()
        token = self.retry.acquire_token(
            operation, safe_to_repeat=safe_to_repeat, readonly=readonly, counts=counts
        )
        call = _Call(token)
        limit = self._limit(call.started, deadline)
        task = asyncio.current_task()
        assert task is not None
        timer = None
        if limit is not None:
            timer = asyncio.get_running_loop().call_later(
                max(0.0, limit.at - call.started), _cut, task, call, "deadline"
            )
        self._inflight[task] = call
        try:
            return await self._retried(call, body, limit)
        except asyncio.CancelledError as cancelled:
            call.failure = cancelled
            if call.cut is None or not _uncancelled(task):  # our caller's cancellation
                raise
            call.failure = ClientClosedError() if call.cut == "closed" else self._late(call, limit)
            raise call.failure from call.error
        except BaseException as exc:
            call.failure = exc
            raise
        finally:
            if timer is not None:
                timer.cancel()
            del self._inflight[task]
            if not self._inflight and self._closed:
                self._idle.set()
            if self._hooks:
                self._called(call)

    async def close(self) -> None:
        """End every call in flight (`ClientClosedError`), then release the connections.

        Calls asleep in a pacer's wait or a back-off wake and fail; nothing is sent after.
        """
        self._closed = True
        if self._inflight:
            for task, call in self._inflight.items():
                _cut(task, call, "closed")
            # Their attempts unwind (and give their connections back) before the pool closes;
            # bounded, for a caller that swallows the cancellation.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._idle.wait(), 1.0)
        await self.transport.close()

    def _limit(self, started: float, deadline: Deadline | float | None) -> Deadline | None:
        """The call's deadline: the earlier of the one handed down and `total_timeout`."""
        if deadline is not None and not isinstance(deadline, Deadline):
            deadline = Deadline(deadline, "deadline", deadline - started)
        total = self._total_timeout
        if total is not None and (deadline is None or started + total < deadline.at):
            return Deadline(started + total, "total_timeout", total)
        return deadline

    def _late(self, call: _Call, limit: Deadline | None) -> CallError:
        """The error of a call whose deadline passed: `ThrottlingException` if ECS was
        throttling it, else `DeadlineExceeded`."""
        assert limit is not None
        reached = f"{limit.limit} of {limit.seconds:g} s reached"
        error = call.error
        if error is not None and error.throttling:
            return _final(call.operation, error, call.attempts, False, reached)
        attempts = f"{call.attempts} attempt{'s' if call.attempts != 1 else ''}"
        return DeadlineExceeded(
            f"{call.operation}: {reached} ({attempts})"
            + (f"; the last failed with {error.code}" if error is not None else ""),
            limit=limit.limit,
            seconds=limit.seconds,
            sent=call.sent,
        )

    # -- pace, send, retry -----------------------------------------------------------------------

    async def _retried(self, call: _Call, body: bytes, limit: Deadline | None) -> _protocol.Reply:
        """The attempts of one call: each paced, sent, and followed by another while the retry
        strategy says so (`_retry.RetryStrategy`: what is retried for which operation, when,
        and how a throttled read-only call persists, paced, beyond `max_attempts`)."""
        strategy, token = self.retry, call.token
        while True:
            credentials = await self._credentials.get()
            await strategy.pace(token, self._pacer(token.operation, credentials.access_key_id))
            response, error, reply = await self._exchange(call, body, credentials)
            if error is None:
                strategy.record_success(token)
                self._succeeded(call, response, reply)
                return reply
            _log.debug("%s attempt %d failed: %s", token.operation, token.attempts, error)
            headers: Mapping[str, str] = response.headers if response is not None else {}
            again = strategy.refresh_token(
                token,
                error,
                retry_after=_retry_after(headers),
                skew_corrected=error.clock_skew and self._correct_skew(headers.get("Date")),
                deadline=limit.at if limit is not None else None,
            )
            if self._hooks:
                self._attempted(call, response, error, token.delay if again else None)
            if not again:
                final = _final(token.operation, error, token.attempts, token.safe_to_repeat)
                if final is error:
                    raise error
                raise final from error
            _log.debug("retrying %s after %s (attempt %d of %d, in %.2fs, request id %s)",
                       token.operation, error.code, token.attempts, strategy.max_attempts,
                       token.delay, error.request_id)  # fmt: skip
            if token.delay > 0:
                await asyncio.sleep(token.delay)

    async def _exchange(
        self, call: _Call, body: bytes, credentials: Credentials
    ) -> tuple[HttpResponse | None, CallError | None, _protocol.Reply]:
        """One attempt: its response, its error (None: success) and the parsed reply."""
        call.exchanged = time.monotonic()
        response = None
        try:
            response = await self._attempt(call.operation, body, credentials)
            if response.status >= 300:
                raise _protocol.parse_error(*response, self.service.errors, credentials.secrets)
            reply = _protocol.parsed(response.body, _protocol.request_id(response.headers))
        except CallError as failed:
            call.error = failed
            call.sent = call.sent or failed.maybe_processed
            return response, failed, _NO_REPLY
        except BaseException as exc:  # cut (deadline, close, cancellation), or a bug
            call.sent = True  # the request may have left
            if self._hooks and not isinstance(exc, asyncio.CancelledError):
                self._attempted(call, response, exc, None)
            raise
        return response, None, reply

    def _succeeded(
        self, call: _Call, response: HttpResponse | None, reply: _protocol.Reply
    ) -> None:
        if self._hooks:
            self._attempted(call, response, None, None)
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("%s ok: %d bytes, request id %s", call.operation, len(reply.body),
                       reply.request_id)  # fmt: skip
        call.reply = reply

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
        call: _Call,
        response: HttpResponse | None,
        error: BaseException | None,
        retry_delay: float | None,
    ) -> None:
        notify_attempt(
            self._hooks,
            AttemptEvent(
                operation=call.operation,
                attempt=call.attempts,
                duration=time.monotonic() - call.exchanged,
                paced=call.token.paced,
                status=response.status if response is not None else None,
                request_id=_protocol.request_id(response.headers) if response else None,
                error_code=_code_of(error) if error is not None else None,
                throttled=isinstance(error, CallError) and error.throttling,
                retry_delay=retry_delay,
            ),
        )

    def _called(self, call: _Call) -> None:
        duration = time.monotonic() - call.started
        reply, failure = call.reply, call.failure
        ok = failure is None and reply is not None
        error = failure if isinstance(failure, CallError) else None
        notify_call(
            self._hooks,
            CallEvent(
                operation=call.operation,
                started=time.time() - duration,
                duration=duration,
                attempts=call.attempts,
                status=200 if ok else getattr(error, "status", None),
                request_id=reply.request_id if ok and reply else getattr(error, "request_id", None),
                error_code=None if ok else _code_of(failure),
                throttled=call.token.counts.throttled - call.throttled_before,
                region=self.config.region,
            ),
        )


class Deadline(NamedTuple):
    """When a call must have ended (`time.monotonic()`), and what to call that limit.

    A stream or a job hands its own down (`Pipeline.send(..., deadline=...)`), named, so the
    `DeadlineExceeded` that ends a call says which limit was reached: `limit` names it (the
    option or parameter a user set) and `seconds` is what it allowed.
    """

    at: float
    limit: str
    seconds: float


class _Call:
    """What one call has done so far: its retry token (attempts, counts), its last error,
    how it ended; for the hooks and the call's final error."""

    __slots__ = (
        "cut",
        "error",
        "exchanged",
        "failure",
        "reply",
        "sent",
        "throttled_before",
        "token",
    )

    def __init__(self, token: _retry.RetryToken) -> None:
        self.token = token
        self.throttled_before = token.counts.throttled
        self.error: CallError | None = None  # the last attempt's, if it failed
        self.sent = False  # whether an attempt may have been processed
        self.exchanged = token.started  # when the last attempt started
        self.reply: _protocol.Reply | None = None
        self.failure: BaseException | None = None  # what the call ended with
        self.cut: str | None = None  # "deadline" or "closed" once either cancelled it

    @property
    def operation(self) -> str:
        return self.token.operation

    @property
    def started(self) -> float:
        return self.token.started

    @property
    def attempts(self) -> int:
        return self.token.attempts


def _cut(task: asyncio.Task[Any], call: _Call, why: str) -> None:
    """Cancel a call's task, marking why: its `send` turns that into the call's error.

    The task is always suspended inside `send` when this runs (a timer or `close()`, from
    another turn of the loop), so the cancellation lands there and nowhere else."""
    if call.cut is None:
        call.cut = why
        task.cancel()


def _uncancelled(task: asyncio.Task[Any]) -> bool:
    """Withdraw our cancellation (Python 3.11+ counts them, and `asyncio.timeout` and task
    groups read the count); False if the caller asked for one too."""
    uncancel = getattr(task, "uncancel", None)
    return uncancel is None or uncancel() == 0


def _code_of(failure: BaseException | None) -> str:
    """How hooks name a failure: a call error's code, "Cancelled" for a cancellation, else
    the exception's class (a credentials failure, a closed client, a bug in a transport)."""
    if isinstance(failure, CallError):
        return failure.code
    if isinstance(failure, asyncio.CancelledError) or failure is None:
        return "Cancelled"
    return type(failure).__name__


_NO_REPLY = _protocol.Reply(b"", None, None)


def _final(
    operation: str, error: CallError, attempts: int, safe_to_repeat: bool, reached: str = ""
) -> CallError:
    """The error a call ends with: throttling as a `ThrottlingException` (the modeled class if
    it has one) with the attempts made, and a lost answer to a call that is not safe to repeat
    saying it may have taken effect."""
    if error.throttling:
        cls = type(error) if isinstance(error, ThrottlingException) else ThrottlingException
        made = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        return cls(
            f"{error.message} ({made}{'; ' + reached if reached else ''})",
            code=error.code,
            request_id=error.request_id,
            status=error.status,
        )
    if error.maybe_processed and not safe_to_repeat:
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
