"""`ECSClient`: configuration, connection lifecycle, and the one request path (`_call`)."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from . import _limits, _operations, _protocol, _retry, serde
from ._credentials import Credentials
from ._exceptions import ECSError, ResponseError, ThrottlingException, TransportError
from ._fanout import TaskStream
from ._operations import ECSOperations
from ._spec import OperationSpec

if TYPE_CHECKING:
    import aiohttp

    from . import models
    from ._config import ResolvedConfig
    from ._credentials import CredentialProvider
    from ._signing import SigV4Signer
    from ._watch import TaskWatch

__all__ = ["ECSClient"]

_Out = TypeVar("_Out")
_UTC = timezone.utc
_log = logging.getLogger("aioecs")
_SKEW_TOLERANCE = timedelta(seconds=60)


class ECSClient(ECSOperations):
    """An async Amazon ECS client: one method per operation, typed models in and out.

    ```python
    async with ECSClient(region="eu-west-1") as ecs:
        page = await ecs.list_tasks(cluster="prod")
    ```

    Region, credentials and endpoint are resolved like boto3 does (arguments, then `AWS_*`
    environment variables, then the shared config and credentials files and botocore's
    credential providers), without blocking the event loop. Also usable without `async with`:
    the first call connects and `await client.close()` releases the connections.

    Requests are paced to ECS's request quotas (one token bucket per throttling category,
    account and Region, shared by every client of the same credentials and Region in the
    process; see the fan-out guide): unpaced until ECS first throttles, then as fast as the
    bucket refills. `rate_limits={"cluster_resource_read": (burst, rate)}` states a raised
    limit, `rate_limits=False` turns pacing off. Throttled read-only calls keep trying while
    ECS makes progress, up to `total_timeout` seconds per call if given; `timeout` bounds
    each attempt.
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
        credentials: Credentials | CredentialProvider | Mapping[str, str] | None = None,
        use_fips: bool | None = None,
        use_dualstack: bool | None = None,
        allow_http: bool = False,
        retry_mode: _retry.RetryMode | None = None,
        max_attempts: int | None = None,
        verify: bool | str | os.PathLike[str] | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        max_connections: int = 64,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        timeout: float | None = None,
        total_timeout: float | None = None,
        rate_limits: Mapping[str, tuple[float, float]] | Literal[False] | None = None,
    ) -> None:
        if ca_bundle is not None:
            if verify is False or (verify not in (None, True) and verify != ca_bundle):
                raise ValueError("pass verify=False or ca_bundle=..., not both")
            verify = ca_bundle
        self._options: dict[str, Any] = {
            "region": region,
            "endpoint_url": endpoint_url,
            "profile": profile,
            "credentials": _checked_credentials(credentials),
            "use_fips": use_fips,
            "use_dualstack": use_dualstack,
            "allow_http": allow_http,
            "retry_mode": retry_mode,
            "max_attempts": max_attempts,
            "verify": verify,
        }
        # Explicit arguments are checked now; None means the environment or config file
        # decides (AWS_RETRY_MODE, AWS_MAX_ATTEMPTS, ...), and `_resolve` replaces this policy
        # if they say something else.
        self._retry = _retry.RetryPolicy(
            mode=retry_mode or "standard", max_attempts=3 if max_attempts is None else max_attempts
        )
        self._max_connections = max_connections
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._attempt_timeout = timeout
        self._total_timeout = total_timeout
        self._rate_limits = _rate_limits(rate_limits)
        self._clock_offset = timedelta(0)  # server clock minus ours, learnt from skew errors
        self._ready: asyncio.Task[None] | None = None
        self._pool: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the pool belongs to
        self._config: ResolvedConfig | None = None
        self._signer: SigV4Signer | None = None
        self._credentials: CredentialProvider | None = None
        self._closed = False

    def __repr__(self) -> str:
        if self._config is None:
            return "<ECSClient (not connected)>"
        return f"<ECSClient region={self._config.region!r} endpoint={self._config.endpoint_url!r}>"

    @property
    def _session(self) -> aiohttp.ClientSession | None:
        """The connection pool, refused to any other event loop than the one it was made on.

        aiohttp's own error for that ("attached to a different loop") does not say what to
        do; this check costs one C call per request.
        """
        pool = self._pool
        if pool is not None:
            loop = asyncio._get_running_loop()
            if loop is not None and loop is not self._loop:
                raise RuntimeError(_OTHER_LOOP)
        return pool

    @_session.setter
    def _session(self, pool: aiohttp.ClientSession | None) -> None:
        self._pool = pool

    @property
    def region(self) -> str | None:
        return self._config.region if self._config else None

    @property
    def endpoint_url(self) -> str | None:
        return self._config.endpoint_url if self._config else None

    async def __aenter__(self) -> ECSClient:
        await self._connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool. Safe to call more than once."""
        self._closed = True
        if self._ready is not None and not self._ready.done():
            self._ready.cancel()
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _connect(self) -> None:
        if self._closed:
            raise RuntimeError("this ECSClient is closed")
        loop = asyncio.get_running_loop()
        if self._ready is None:
            # One resolution shared by every concurrent first call.
            self._loop = loop
            self._ready = asyncio.ensure_future(self._resolve())
        elif loop is not self._loop:
            raise RuntimeError(_OTHER_LOOP)
        try:
            await asyncio.shield(self._ready)
        except asyncio.CancelledError:
            if self._closed and self._ready.cancelled():  # close() won the race, not our caller
                raise RuntimeError("this ECSClient is closed") from None
            raise

    async def _resolve(self) -> None:
        # Cold, these imports take over 100 ms (aiohttp alone most of it): in a worker thread,
        # the event loop keeps running meanwhile (the probe in tests/test_loop_lag.py).
        aiohttp, resolve_config, SigV4Signer = await asyncio.to_thread(_connect_modules)
        from . import _config  # loaded by _connect_modules

        config = await resolve_config(**self._options)
        # Only an https endpoint has a certificate to verify (a CA bundle is often set
        # machine-wide, and loading one costs milliseconds).
        https = config.request_url.startswith("https:")
        ssl_setting = await _config.ssl_setting(config.verify) if https else True
        self._config = config
        self._credentials = config.credential_provider
        self._signer = SigV4Signer(config.region, "ecs")
        if (config.retry_mode, config.max_attempts) != (self._retry.mode, self._retry.max_attempts):
            self._retry = _retry.RetryPolicy(
                mode=config.retry_mode, max_attempts=config.max_attempts
            )
        connector = aiohttp.TCPConnector(
            ssl=ssl_setting,
            limit=self._max_connections,
            # AWS closes idle connections after 20 s; reusing one it is closing fails.
            keepalive_timeout=15,
            ttl_dns_cache=300,
        )
        timeout = aiohttp.ClientTimeout(  # per attempt: a retry gets a fresh allowance
            total=self._attempt_timeout,
            sock_connect=self._connect_timeout,
            sock_read=self._read_timeout,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            auto_decompress=True,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            proxy=config.proxy,
        )

    def iter_tasks(
        self,
        cluster: str | None = None,
        *,
        clusters: Sequence[str] | Literal["*"] | None = None,
        family: str | None = None,
        service_name: str | None = None,
        started_by: str | None = None,
        desired_status: models.DesiredStatus | None = None,
        launch_type: models.LaunchType | None = None,
        container_instance: str | None = None,
        include: Sequence[models.TaskField] | None = None,
        concurrency: int = 8,
        deadline: float | None = None,
    ) -> TaskStream:
        """Every task matching the ListTasks filters, described and typed, as a stream.

        `cluster` names one cluster (default: the account's `default` cluster), `clusters`
        several, or `"*"` for every cluster in the region. `desired_status` defaults to
        RUNNING, as in ListTasks. `concurrency` bounds DescribeTasks calls in flight. Failures
        (tasks gone between listing and describing) are in the stream's `failures` after the
        loop. Throttling and transient faults are retried for as long as ECS makes progress;
        `deadline` (seconds) bounds the whole stream. See `TaskStream`.
        """
        if cluster is not None and clusters is not None:
            raise ValueError("pass cluster or clusters, not both")
        filters = {
            "family": family,
            "service_name": service_name,
            "started_by": started_by,
            "desired_status": desired_status,
            "launch_type": launch_type,
            "container_instance": container_instance,
        }
        from . import models
        from ._validate import validate

        request = serde.build_request("ListTasks", models.ListTasksRequest, filters)
        validate("ListTasks", request)
        list_params = serde.encode(request)
        names: list[str] | None = None
        list_clusters = None
        if clusters == "*":
            list_clusters = self.paginate_list_clusters().items
        elif clusters is not None:
            names = [clusters] if isinstance(clusters, str) else list(clusters)
        else:
            names = [cluster or "default"]
        return TaskStream(
            self._send_json,
            names,
            list_clusters,
            list_params,
            list(include) if include else None,
            concurrency,
            deadline,
        )

    def watch_tasks(
        self,
        cluster: str | None = None,
        *,
        clusters: Sequence[str] | Literal["*"] | None = None,
        family: str | None = None,
        service_name: str | None = None,
        started_by: str | None = None,
        launch_type: models.LaunchType | None = None,
        container_instance: str | None = None,
        include: Sequence[models.TaskField] | None = None,
        interval: float = 30.0,
        refresh: int | None = 10,
        concurrency: int = 8,
        snapshot: dict[str, Any] | None = None,
    ) -> TaskWatch:
        """The changes of the RUNNING tasks matching the ListTasks filters, as a stream.

        Sweeps start every `interval` seconds; each lists the ARNs and describes only what may
        have changed, and settled tasks every `refresh` sweeps (None: never). `snapshot`
        resumes from `TaskWatch.snapshot()`. See `TaskWatch` and `TaskChange`.
        """
        from ._watch import watch

        filters = {
            "family": family,
            "service_name": service_name,
            "started_by": started_by,
            "launch_type": launch_type,
            "container_instance": container_instance,
        }
        return watch(
            self._send_json,
            cluster=cluster,
            clusters=clusters,
            filters=filters,
            include=include,
            interval=interval,
            refresh=refresh,
            concurrency=concurrency,
            snapshot=snapshot,
        )

    async def _send_json(
        self,
        operation: str,
        params: dict[str, Any],
        counts: _retry.RequestCounts | None = None,
        deadline: float | None = None,
    ) -> Any:
        """The fan-out's path: ListTasks and DescribeTasks, both read-only."""
        reply = await self._send(
            operation,
            _protocol.encode_body(params),
            safe_to_repeat=True,
            readonly=True,
            counts=counts,
            deadline=deadline,
        )
        return _protocol.parse_body(reply)

    async def _call(self, spec: OperationSpec[Any, _Out], params: dict[str, Any]) -> _Out:
        token = spec.idempotency_token
        if token is not None and params.get(token) is None:
            # Filled once per call, so every retry of it carries the same token.
            params = {**params, token: str(uuid.uuid4())}
        from ._validate import validate  # loaded with the first call, not with `import aioecs`

        request = serde.build_request(spec.name, spec.input, params)
        validate(spec.name, request)
        body = _protocol.encode_body(serde.encode(request))
        reply = await self._send(
            spec.name, body, safe_to_repeat=spec.safe_to_repeat, readonly=spec.readonly
        )
        data = _protocol.parse_body(reply)
        try:
            return serde.decode(spec.output, data)
        except Exception as exc:  # a response that does not fit the model
            raise ResponseError(
                f"{spec.name} response does not match the model: {type(exc).__name__}",
                code="InvalidResponse",
                request_id=reply.request_id,
                status=200,
            ) from exc

    async def _send(
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
        paced, without spending the retry quota, until `deadline` (`time.monotonic()`; default: the
        client's `total_timeout`) or until its bucket has let nothing through for
        `_limits.STALLED` seconds.
        """
        if self._session is None:
            await self._connect()
        assert self._credentials is not None and self._config is not None
        clock = time.monotonic  # the pacers' clock, shared by every loop in the process
        if deadline is None and self._total_timeout is not None:
            deadline = clock() + self._total_timeout
        policy = self._retry
        counts = counts if counts is not None else _retry.RequestCounts()
        started = clock()
        attempt = 0  # attempts that count against max_attempts
        cost: int | None = None  # what the last retry took from the quota
        while True:
            attempt += 1
            credentials = await self._credentials.get()
            pacer = self._pacer(operation, credentials.access_key_id)
            sent_at = clock()
            if pacer is not None:
                wait, sent_at = pacer.reserve()
                if wait > 0:
                    await asyncio.sleep(wait)
            if policy.limiter is not None:
                await policy.limiter.acquire()
            counts.sent += 1
            try:
                reply = await self._attempt(operation, body, credentials)
            except ECSError as error:
                _log.debug("%s attempt %d failed: %s", operation, attempt, error)
                kind = _retry.classify(error)
                throttled = kind == "throttling"
                if policy.limiter is not None:
                    policy.limiter.record(throttled)
                if throttled:
                    counts.throttled += 1
                    if pacer is not None:
                        pacer.throttled(sent_at)
                        if readonly and _persist(pacer, started, deadline, clock()):
                            # Paced by the pacer's mirror bucket, which is empty now.
                            attempt -= 1
                            counts.retried += 1
                            continue
                skewed = error.code in _retry.CLOCK_SKEW_CODES and self._correct_skew(error)
                if skewed and attempt < policy.max_attempts:
                    counts.retried += 1
                    continue
                cost = policy.retry_cost(error, attempt, safe_to_repeat)
                if cost is None:
                    final = _final(operation, error, attempt, safe_to_repeat)
                    if final is error:
                        raise
                    raise final from error
                pause = policy.delay(attempt, error, error.retry_after)
                _log.debug(
                    "retrying %s after %s (attempt %d of %d, in %.2fs, request id %s)",
                    operation, error.code, attempt, policy.max_attempts, pause, error.request_id,
                )  # fmt: skip
                counts.retried += 1
                await asyncio.sleep(pause)
                continue
            if pacer is not None:
                pacer.succeeded(sent_at)
            if policy.limiter is not None:
                policy.limiter.record(False)
            policy.succeeded(cost)
            if _log.isEnabledFor(logging.DEBUG):
                _log.debug("%s ok: %d bytes, request id %s", operation, len(reply.body),
                           reply.request_id)  # fmt: skip
            return reply

    def _pacer(self, operation: str, access_key_id: str) -> _limits.Pacer | None:
        if self._rate_limits is None:
            return None
        assert self._config is not None
        pacing = _limits.pacing_for(access_key_id, self._config.region, self._config.endpoint_url)
        return pacing.pacer(operation, self._rate_limits)

    async def _attempt(
        self, operation: str, body: bytes, credentials: Credentials
    ) -> _protocol.Reply:
        """One signed HTTP exchange, parsed; network failures become `TransportError`.

        The body is parsed here, inside the attempt, so that a 200 whose JSON was cut short
        (a proxy closing early) is a failed attempt, retried like a dropped connection.
        """
        import aiohttp  # already loaded by now; imported here to keep `import aioecs` light

        session = self._session
        if session is None:  # closed while this call was waiting or backing off
            raise RuntimeError("this ECSClient is closed")
        assert self._config is not None and self._signer is not None
        headers = self._signer.sign(
            method="POST",
            path=self._config.path,
            query="",
            headers=_protocol.request_headers(operation, self._config.host),
            body=body,
            credentials=credentials,
            now=datetime.now(_UTC) + self._clock_offset,
        )
        sent = False
        try:
            async with session.post(self._config.request_url, data=body, headers=headers) as resp:
                sent = True
                raw = await resp.read()
                status = resp.status
                response_headers: Mapping[str, str] = resp.headers
        # aiohttp's exceptions carry the request, signed headers included: they are described
        # here and not chained, so no traceback can print a signature or a session token.
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # A connect timeout costs the retry quota more than a refusal (as in botocore).
            code = "ConnectTimeout" if isinstance(exc, asyncio.TimeoutError) else "ConnectError"
            raise TransportError(f"{operation}: could not connect ({_describe(exc)})",
                                 code=code, sent=False) from None  # fmt: skip
        except (asyncio.TimeoutError, aiohttp.ClientError, OSError) as exc:
            code = "Timeout" if isinstance(exc, asyncio.TimeoutError) else "ConnectionLost"
            where = "reading the response" if sent else "sending the request"
            raise TransportError(f"{operation}: {_describe(exc)} while {where}",
                                 code=code, sent=True) from None  # fmt: skip
        if status >= 300:
            error = _protocol.parse_error(status, response_headers, raw)
            error.server_date = response_headers.get("Date")
            error.retry_after = _retry_after(response_headers)
            raise error
        return _protocol.parsed(raw, _protocol.request_id(response_headers))

    def _correct_skew(self, error: ECSError) -> bool:
        """Adopt the server's clock after a skew rejection; True if the offset changed."""
        server_date = error.server_date
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


def _rate_limits(
    given: Mapping[str, tuple[float, float]] | Literal[False] | None,
) -> dict[str, _limits.Quota] | None:
    """The quota overrides by category (None: pacing off), checked before anything is sent."""
    if given is False:
        return None
    overrides = {}
    for category, quota in (given or {}).items():
        if category not in _limits.CATEGORIES:
            known = ", ".join(sorted(_limits.CATEGORIES))
            raise ValueError(f"rate_limits: unknown category {category!r}; known: {known}")
        burst, rate = quota
        if burst < 1 or rate <= 0:
            raise ValueError(f"rate_limits[{category!r}]: need burst >= 1 and rate > 0")
        overrides[category] = _limits.Quota(float(burst), float(rate))
    return overrides


def _persist(pacer: _limits.Pacer, started: float, deadline: float | None, now: float) -> bool:
    """Whether a throttled read-only call keeps trying: while ECS makes progress (its bucket
    let a request through in the last `STALLED` seconds, or the call is younger than that)."""
    if deadline is not None and now >= deadline:
        return False
    return now - max(pacer.last_success, started) < _limits.STALLED


def _final(operation: str, error: ECSError, attempts: int, safe_to_repeat: bool) -> ECSError:
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
    if kind == "maybe_processed" and not safe_to_repeat and isinstance(error, ResponseError):
        return ResponseError(
            f"{error.message}; {operation} may have been processed: check before repeating it",
            code=error.code,
            request_id=error.request_id,
            status=error.status,
        )
    return error


def _connect_modules() -> tuple[Any, Any, Any]:
    """Import what connecting and the first call need; run in a worker thread."""
    import aiohttp

    # What every first call loads, whichever operation it is: here, off the loop.
    from . import _constraints, _validate, _wire_names, models  # noqa: F401
    from ._config import resolve_config
    from ._signing import SigV4Signer

    # And the fan-out's: ListTasks and DescribeTasks, Task with its 40 nested classes, and
    # their decoders (generated beside the classes; cattrs compiles the request encoders).
    # Safe from a thread: the worst a concurrent first use on the loop can do is compile a
    # function twice.
    fan_out: tuple[tuple[OperationSpec[Any, Any], dict[str, Any]], ...] = (
        (_operations.LIST_TASKS, {"cluster": "warm-up"}),
        (_operations.DESCRIBE_TASKS, {"cluster": "warm-up", "tasks": ["warm-up"]}),
    )
    for spec, params in fan_out:
        serde.encode(serde.build_request(spec.name, spec.input, params))
        serde.decoder(spec.output)

    return aiohttp, resolve_config, SigV4Signer


_OTHER_LOOP = (
    "this ECSClient was first used on another event loop (each asyncio.run() makes a new "
    "one); its connections belong to that loop: create one client per event loop"
)


def _checked_credentials(
    credentials: Credentials | CredentialProvider | Mapping[str, str] | None,
) -> Credentials | CredentialProvider | None:
    """The `credentials` argument, checked now rather than at the first call.

    A mapping with the `Credentials` keys is accepted. Anything else with a `get` method
    (a dict among them) would pass the `CredentialProvider` protocol check, so the check is
    that `get` is a coroutine function.
    """
    import inspect

    if credentials is None or isinstance(credentials, Credentials):
        return credentials
    if isinstance(credentials, Mapping):
        allowed = {"access_key_id", "secret_access_key", "session_token"}
        unknown = sorted(set(credentials) - allowed)
        missing = sorted({"access_key_id", "secret_access_key"} - set(credentials))
        if unknown or missing:
            raise TypeError(
                "credentials as a mapping takes access_key_id, secret_access_key and "
                "optionally session_token"
                + (f"; unknown: {', '.join(map(str, unknown))}" if unknown else "")
                + (f"; missing: {', '.join(missing)}" if missing else "")
            )
        return Credentials(
            access_key_id=credentials["access_key_id"],
            secret_access_key=credentials["secret_access_key"],
            session_token=credentials.get("session_token"),
        )
    if not inspect.iscoroutinefunction(getattr(credentials, "get", None)):
        raise TypeError(
            "credentials must be aioecs.Credentials, a mapping with access_key_id and "
            "secret_access_key, or a CredentialProvider (an object with `async def get()`), "
            f"not {type(credentials).__name__}"
        )
    return credentials


def _describe(exc: BaseException) -> str:
    """An exception's class and OS error, without its arguments (which may hold a request)."""
    errno = getattr(exc, "errno", None)
    strerror = getattr(exc, "strerror", None)
    return f"{type(exc).__name__}" + (f" [{errno}] {strerror}" if strerror else "")


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("x-amz-retry-after")
    try:
        return int(value) / 1000 if value is not None else None
    except ValueError:
        return None
