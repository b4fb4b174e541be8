"""`ECSClient`: configuration, connection lifecycle, and the one request path (`_call`)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from . import _operations, _protocol, _retry, serde
from ._credentials import Credentials
from ._exceptions import ECSError, ResponseError, TransportError
from ._fanout import TaskStream
from ._operations import ECSOperations
from ._spec import OperationSpec

if TYPE_CHECKING:
    import aiohttp

    from . import models
    from ._config import ResolvedConfig
    from ._credentials import CredentialProvider
    from ._signing import SigV4Signer

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
        retry_mode: _retry.RetryMode = "standard",
        max_attempts: int = 3,
        max_connections: int = 64,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        timeout: float | None = None,
    ) -> None:
        self._options: dict[str, Any] = {
            "region": region,
            "endpoint_url": endpoint_url,
            "profile": profile,
            "credentials": _checked_credentials(credentials),
            "use_fips": use_fips,
            "use_dualstack": use_dualstack,
            "allow_http": allow_http,
        }
        self._retry = _retry.RetryPolicy(mode=retry_mode, max_attempts=max_attempts)
        self._max_connections = max_connections
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._attempt_timeout = timeout
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
        config = await resolve_config(**self._options)
        self._config = config
        self._credentials = config.credential_provider
        self._signer = SigV4Signer(config.region, "ecs")
        connector = aiohttp.TCPConnector(
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
    ) -> TaskStream:
        """Every task matching the ListTasks filters, described and typed, as a stream.

        `cluster` names one cluster (default: the account's `default` cluster), `clusters`
        several, or `"*"` for every cluster in the region. `desired_status` defaults to
        RUNNING, as in ListTasks. `concurrency` bounds DescribeTasks calls in flight. Failures
        (tasks gone between listing and describing) are in the stream's `failures` after the
        loop. See `TaskStream`.
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
        )

    async def _send_json(self, operation: str, params: dict[str, Any]) -> Any:
        """The fan-out's path: ListTasks and DescribeTasks, both read-only."""
        reply = await self._send(operation, _protocol.encode_body(params), safe_to_repeat=True)
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
        reply = await self._send(spec.name, body, safe_to_repeat=spec.safe_to_repeat)
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
        self, operation: str, body: bytes, *, safe_to_repeat: bool = False
    ) -> _protocol.Reply:
        """Send one call with retries: the reply of a success, or the last error raised.

        What is retried, and when, is `_retry.RetryPolicy`'s call; `safe_to_repeat` says
        whether the operation may be repeated after an attempt that may have been processed.
        """
        if self._session is None:
            await self._connect()
        policy = self._retry
        attempt = 0
        cost: int | None = None  # what the last retry took from the quota
        while True:
            attempt += 1
            if policy.limiter is not None:
                await policy.limiter.acquire()
            try:
                reply = await self._attempt(operation, body)
            except ECSError as error:
                _log.debug("%s attempt %d failed: %s", operation, attempt, error)
                if policy.limiter is not None:
                    policy.limiter.record(_retry.classify(error) == "throttling")
                skewed = error.code in _retry.CLOCK_SKEW_CODES and self._correct_skew(error)
                if skewed and attempt < policy.max_attempts:
                    continue
                cost = policy.retry_cost(error, attempt, safe_to_repeat)
                if cost is None:
                    raise
                pause = policy.delay(attempt, error, error.retry_after)
                _log.debug(
                    "retrying %s after %s (attempt %d of %d, in %.2fs, request id %s)",
                    operation, error.code, attempt, policy.max_attempts, pause, error.request_id,
                )  # fmt: skip
                await asyncio.sleep(pause)
                continue
            if policy.limiter is not None:
                policy.limiter.record(False)
            policy.succeeded(cost)
            if _log.isEnabledFor(logging.DEBUG):
                _log.debug("%s ok: %d bytes, request id %s", operation, len(reply.body),
                           reply.request_id)  # fmt: skip
            return reply

    async def _attempt(self, operation: str, body: bytes) -> _protocol.Reply:
        """One signed HTTP exchange; network failures become `TransportError`."""
        import aiohttp  # already loaded by now; imported here to keep `import aioecs` light

        session = self._session
        if session is None:  # closed while this call was waiting or backing off
            raise RuntimeError("this ECSClient is closed")
        assert self._config is not None and self._signer is not None
        assert self._credentials is not None
        credentials = await self._credentials.get()
        headers = self._signer.sign(
            method="POST",
            path="/",
            query="",
            headers=_protocol.request_headers(operation, self._config.host),
            body=body,
            credentials=credentials,
            now=datetime.now(_UTC) + self._clock_offset,
        )
        sent = False
        try:
            async with session.post(self._config.endpoint_url, data=body, headers=headers) as resp:
                sent = True
                raw = await resp.read()
                status = resp.status
                response_headers: Mapping[str, str] = resp.headers
        # aiohttp's exceptions carry the request, signed headers included: they are described
        # here and not chained, so no traceback can print a signature or a session token.
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise TransportError(f"{operation}: could not connect ({_describe(exc)})",
                                 code="ConnectError", sent=False) from None  # fmt: skip
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
        return _protocol.Reply(raw, _protocol.request_id(response_headers))

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


def _connect_modules() -> tuple[Any, Any, Any]:
    """Import what connecting and the first call need; run in a worker thread."""
    import aiohttp

    # What every first call loads, whichever operation it is: here, off the loop.
    from . import _constraints, _validate, _wire_names, models  # noqa: F401
    from ._config import resolve_config
    from ._signing import SigV4Signer

    # And the fan-out's: ListTasks and DescribeTasks, Task with its 40 nested classes, and
    # their decoders (cattrs compiles one function per class). Safe from a thread: the worst
    # a concurrent first decode on the loop can do is compile a function twice.
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
