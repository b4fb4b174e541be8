"""The exception hierarchy's hand-written classes; modeled errors subclass `ECSError`.

AioECSError                  everything aioecs raises on purpose
├── CallError                a call failed: `code`, `message`, `request_id`
│   ├── ECSError             ECS (or a proxy in front of it) answered with an error
│   │   ├── ClusterNotFoundException, ... (generated), ThrottlingException
│   │   └── ResponseError    an answer that is not what the protocol promises
│   ├── TransportError       no answer: not connected, reset, timed out
│   │   └── DeadlineExceeded the call's deadline passed (also a TimeoutError)
│   └── AgentError           the ECS agent inside a task refused, failed or did not answer
├── ClientClosedError        the client was closed (also a RuntimeError)
├── ValidationError          a bad request, refused before sending (also a ValueError)
├── WaiterError              a waiter gave up (or a job's wait ran out of time)
├── JobStartError            a job's start calls failed after some tasks started
├── ConfigError              region, endpoint or settings that cannot work
├── CredentialsError         no credentials, or they could not be refreshed
└── ExecError                ECS Exec's data channel failed (`exec_command`, `exec_session`)
    ├── ExecChannelClosed    closed without the service ending the session (or refused)
    ├── ExecTimeout          the exec's deadline passed (also a TimeoutError)
    ├── ExecProtocolError    a frame that is not a valid AgentMessage
    └── ExecNotSupported     a KMS-encrypted session without `cryptography`
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class AioECSError(Exception):
    """The root of every exception aioecs raises on purpose."""


# What an error code or status says about retrying, as botocore's standard mode reads them
# (botocore/retries/standard.py, retryhandler.py).
THROTTLING_CODES = frozenset(
    {
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
    }
)
TRANSIENT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException"})
TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
CLOCK_SKEW_CODES = frozenset(
    {
        "RequestTimeTooSkewed",
        "RequestExpired",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "RequestInTheFuture",
    }
)


class CallError(AioECSError):
    """A call to ECS that failed, whether ECS answered (`ECSError`) or not (`TransportError`).

    `code` names the failure (`ClusterNotFoundException`, `ConnectError`), `request_id` is what
    AWS support asks for (None when no answer came), `status` the HTTP status (None likewise).

    What the failure says about trying again is decided once, when the error is made (as the
    response is parsed), from its class, code and status: `throttling` (refused for the
    request quota, not processed), `transient` (a 5xx or a request timeout), `clock_skew` (a
    signature refused for this machine's clock) and `maybe_processed` (ECS may have acted on
    the request before the answer was lost or broken).
    """

    code: str
    message: str
    request_id: str | None
    status: int | None
    throttling: bool
    transient: bool
    clock_skew: bool
    maybe_processed: bool

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        request_id: str | None = None,
        status: int | None = None,
    ) -> None:
        self.code = code = code or type(self).__name__
        self.message = message
        self.request_id = request_id
        self.status = status
        self.throttling = (
            isinstance(self, ThrottlingException) or code in THROTTLING_CODES or status == 429
        )
        self.transient = code in TRANSIENT_CODES or status in TRANSIENT_STATUS
        self.clock_skew = code in CLOCK_SKEW_CODES
        # Answered, but the answer is an error that ECS may have raised after acting (a 5xx),
        # or not what the protocol promises (`ResponseError`).
        self.maybe_processed = self.transient or isinstance(self, ResponseError)
        super().__init__(str(self))

    def __str__(self) -> str:
        details = ", ".join(
            part
            for part in (
                f"HTTP {self.status}" if self.status is not None else "",
                f"request id {self.request_id}" if self.request_id else "",
            )
            if part
        )
        text = f"{self.code}: {self.message}" if self.message else self.code
        return f"{text} ({details})" if details else text

    def __reduce__(self) -> tuple[object, ...]:
        # The instance dict as state, so attributes set after construction (a subclass's own,
        # a program's) survive pickling too, e.g. across process pools.
        args = (type(self), self.message, self.code, self.request_id, self.status)
        return _rebuild, args, self.__dict__


def _rebuild(
    cls: type[CallError], message: str, code: str, request_id: str | None, status: int | None
) -> CallError:
    return cls(message, code=code, request_id=request_id, status=status)


class ECSError(CallError):
    """An error answered by ECS (or by something in front of it, such as a proxy).

    `code` is the error type AWS sent (`ClusterNotFoundException`), `status` the HTTP status
    and `request_id` what AWS support asks for. Modeled errors are subclasses, so
    `except aioecs.errors.ClusterNotFoundException` works; unknown codes raise `ECSError`.
    """


class ResponseError(ECSError):
    """A response that is not what the protocol promises (truncated, not JSON, wrong shape)."""


class ThrottlingException(ECSError):
    """ECS kept answering that the account's request quota was spent (`ThrottlingException`,
    or another throttling code such as HTTP 429), and the call gave up.

    Read-only calls give up only when ECS stopped making progress or a deadline passed (see
    `ECSClient`'s `total_timeout`); the message says how many attempts were made.
    """


class ValidationError(AioECSError, ValueError):
    """A request that breaks the model's constraints; raised before anything is sent.

    `problems` lists every problem as `(path, message)`, e.g.
    `("overrides.container_overrides[0].cpu", "must be an integer")`.
    """

    def __init__(
        self, operation: str, problems: Sequence[tuple[str, str]], *, kind: str = "request"
    ) -> None:
        # `kind` is "data" when `serde.from_dict` raises it; `operation` is then the class.
        self.operation = operation
        self.problems = list(problems)
        self.kind = kind
        lines = "\n".join(f"  {path or f'<{kind}>'}: {message}" for path, message in self.problems)
        super().__init__(f"invalid {operation} {kind}:\n{lines}")

    def __reduce__(self) -> tuple[object, ...]:
        return _rebuild_validation, (self.operation, self.problems, self.kind), self.__dict__


def _rebuild_validation(
    operation: str, problems: list[tuple[str, str]], kind: str
) -> ValidationError:
    return ValidationError(operation, problems, kind=kind)


class WaiterError(AioECSError):
    """A waiter stopped without success: a failure state, an unexpected error, or time ran out.

    `reason` says which of these; `details` what the last response showed, e.g. for the task
    waiters each task not (yet) in the awaited state, as `ARN: LAST_STATUS (stopped reason)`,
    and `ARN: MISSING` for a task ECS does not know. Both are in the message.
    `last_response` is the last model the operation returned (None if it never answered);
    it is kept out of the repr, which a large DescribeTasks page would otherwise fill.
    """

    def __init__(
        self, waiter: str, reason: str, last_response: object, details: Sequence[str] = ()
    ) -> None:
        self.waiter = waiter
        self.reason = reason
        self.last_response = last_response
        self.details = list(details)
        text = f"waiter {waiter}: {reason}"
        if self.details:
            text += ": " + "; ".join(self.details)
        super().__init__(text)

    def __repr__(self) -> str:
        return f"WaiterError(waiter={self.waiter!r}, reason={self.reason!r})"

    def __reduce__(self) -> tuple[object, ...]:
        args = (self.waiter, self.reason, self.last_response, self.details)
        return type(self), args, self.__dict__


class TransportError(CallError):
    """The request or its answer was lost on the network: no HTTP status to report.

    `sent` says whether the request may have reached ECS (False only when the connection
    could not even be opened). For an operation that is not safe to repeat, such as
    StartTask, `sent=True` means it may have been processed: check (ListTasks with the
    `started_by` you gave) before starting again.
    """

    def __init__(self, message: str, *, code: str, sent: bool) -> None:
        super().__init__(message, code=code)
        self.sent = sent
        self.maybe_processed = sent

    def __reduce__(self) -> tuple[object, ...]:
        return _rebuild_transport, (self.message, self.code, self.sent), self.__dict__


def _rebuild_transport(message: str, code: str, sent: bool) -> TransportError:
    return TransportError(message, code=code, sent=sent)


class JobStartError(AioECSError):
    """Starting a job (`ECSClient.run_job`, `start_job`) failed after some of its tasks had
    started: `job` holds those, to wait on or stop; `__cause__` is the call's error, whose
    message this one repeats (a StartTask's says whether it may have been processed)."""

    def __init__(self, message: str, job: Any) -> None:
        super().__init__(message)
        self.job = job

    def __reduce__(self) -> tuple[object, ...]:
        # The job holds a live client: a pickled copy (an error tracker's) carries the message.
        return type(self), (self.args[0], None)


class ExecError(AioECSError):
    """ECS Exec failed after ExecuteCommand answered: the Session Manager data channel could
    not be used. The session token never appears in the message."""


class ExecChannelClosed(ExecError):
    """The data channel's WebSocket closed before the service said the session was over.

    `refused` is True when it closed before a single frame came back: the service refused the
    session (an expired or already used token, or ExecuteCommand's session already ended).
    """

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused

    def __reduce__(self) -> tuple[object, ...]:
        return type(self), (self.args[0],), self.__dict__


class ExecTimeout(ExecError, TimeoutError):
    """The exec's `timeout` passed before the command's output ended; the channel is closed."""


class ExecProtocolError(ExecError):
    """A frame on the data channel that is not a valid AgentMessage (a bad length or digest)."""


class ExecNotSupported(ExecError):
    """The session needs what this installation cannot do: a KMS-encrypted session (the
    cluster's `executeCommandConfiguration` names a `kmsKeyId`) without the `cryptography`
    package (`pip install 'aioecs[kms]'`)."""


class AgentError(CallError):
    """A call to the ECS container agent from inside a task (task metadata, scale-in
    protection) failed: the agent answered with an error, or did not answer in time.

    `code` is the agent's (`TASK_NOT_VALID`, `AccessDeniedException`, `ThrottlingException`),
    or says why no answer came (`ConnectError`, `ConnectTimeout`, `Timeout`), or `HTTP500`
    when the answer named nothing; `status` is the HTTP status (None without an answer) and
    `request_id` the agent's `requestID`, when it gave one. Answers that are worth repeating
    (429, 5xx, no answer) were retried, with back-off, before this was raised.
    """


class DeadlineExceeded(TransportError, TimeoutError):
    """A call's deadline passed: the attempt in flight (or the wait before the next) was cut.

    `limit` names the deadline that was reached (`"total_timeout"`, the client's, or the
    `"deadline"` a stream or job handed down) and `seconds` how long it allowed. Like every
    `TransportError`, `sent` says whether an attempt may have reached ECS; the last attempt's
    error, if one failed before, is the `__cause__`. Also a builtin `TimeoutError`, so
    `except TimeoutError` catches it. A call that ECS was still throttling when its time ran
    out ends with its `ThrottlingException` instead, whose message names the deadline.
    """

    def __init__(self, message: str, *, limit: str, seconds: float, sent: bool) -> None:
        super().__init__(message, code="DeadlineExceeded", sent=sent)
        self.limit = limit
        self.seconds = seconds

    def __reduce__(self) -> tuple[object, ...]:
        args = (self.message, self.limit, self.seconds, self.sent)
        return _rebuild_deadline, args, self.__dict__


def _rebuild_deadline(message: str, limit: str, seconds: float, sent: bool) -> DeadlineExceeded:
    return DeadlineExceeded(message, limit=limit, seconds=seconds, sent=sent)


class ClientClosedError(AioECSError, RuntimeError):
    """The client was closed: by `close()` while this call or stream was in flight (nothing
    is sent, retried or paced after it), or before it started.

    Not a `CallError`: no code path retries it or files it as one cluster's failure, so a
    fan-out or a watch ends with it too. Also a `RuntimeError`, as a closed client's calls
    raised before.
    """

    def __init__(self, message: str = "this ECSClient is closed") -> None:
        super().__init__(message)
