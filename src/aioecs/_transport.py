"""The transport: one HTTP exchange, and nothing else. The seam for test doubles.

The pipeline hands a signed `HttpRequest` to a `Transport` and gets an `HttpResponse` back,
whatever its status; a request or answer lost on the network is a `TransportError` (with
`sent` saying whether the request may have reached ECS). `AiohttpTransport` is the default;
`MockTransport` answers from a function, like httpx's, so that tests and users can script
ECS without a server:

    def handler(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, {}, b'{"clusterArns": []}')

    ECSClient(region="us-east-1", credentials=..., transport=MockTransport(handler))
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

from . import _protocol
from ._exceptions import TransportError

if TYPE_CHECKING:
    import ssl

    import aiohttp

__all__ = ["AiohttpTransport", "HttpRequest", "HttpResponse", "MockTransport", "Transport"]


# The headers whose whole value is a secret (SigV4's signature and the session token).
_SIGNED_SECRETS = frozenset({"authorization", "x-amz-security-token"})


class HttpRequest(NamedTuple):
    """A signed request, ready to go. `headers` include the signature: never log them."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def operation(self) -> str:
        """The ECS operation (`ListTasks`), from the `X-Amz-Target` header."""
        return self.headers.get("x-amz-target", "").rpartition(".")[2]

    def __repr__(self) -> str:
        # Transports, test handlers and error trackers that capture locals all see requests:
        # their repr shows no signature or token, and of the body (parameters that may hold
        # secrets, such as a container's environment) only its size.
        headers = {
            name: _protocol.REDACTED if name.lower() in _SIGNED_SECRETS else _protocol.redact(value)
            for name, value in self.headers.items()
        }
        return (
            f"HttpRequest(method={self.method!r}, url={_protocol.redact(self.url)!r}, "
            f"headers={headers!r}, body=<{len(self.body)} bytes>)"
        )


class HttpResponse(NamedTuple):
    status: int
    headers: Mapping[str, str]
    body: bytes

    def __repr__(self) -> str:
        # What answered may echo the signed request (a proxy, a WAF): redacted like errors.
        return _protocol.redact(
            f"HttpResponse(status={self.status!r}, headers={dict(self.headers)!r}, "
            f"body={self.body!r})"
        )


@runtime_checkable
class Transport(Protocol):
    """Sends one request and returns the response, whatever its status."""

    async def send(self, request: HttpRequest) -> HttpResponse:
        """The response; `TransportError` if the request or its answer was lost."""
        ...

    async def close(self) -> None:
        """Release connections. The client calls it when it closes."""
        ...


class MockTransport:
    """A transport that answers from `handler(request)` (a function or a coroutine function).

    The handler may raise `TransportError` to stand for a lost connection.
    """

    def __init__(
        self, handler: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]]
    ) -> None:
        self._handler = handler

    def __repr__(self) -> str:
        return f"MockTransport({getattr(self._handler, '__name__', self._handler)!r})"

    async def send(self, request: HttpRequest) -> HttpResponse:
        answer = self._handler(request)
        if inspect.isawaitable(answer):
            return await answer
        return answer

    async def close(self) -> None:
        return None


class AiohttpTransport:
    """HTTP/1.1 over aiohttp: one connection pool, per-attempt timeouts, TLS and proxies."""

    def __init__(
        self,
        *,
        max_connections: int = 64,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        timeout: float | None = None,
        ssl: ssl.SSLContext | bool = True,
        proxy: str | None = None,
    ) -> None:
        import aiohttp

        connector = aiohttp.TCPConnector(
            ssl=ssl,
            limit=max_connections,
            # AWS closes idle connections after 20 s; reusing one it is closing fails.
            keepalive_timeout=15,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(  # per attempt: a retry gets a fresh allowance
                total=timeout, sock_connect=connect_timeout, sock_read=read_timeout
            ),
            auto_decompress=True,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            proxy=proxy,
        )
        self._errors = _aiohttp_errors(aiohttp)

    def __repr__(self) -> str:
        return "AiohttpTransport()"

    async def send(self, request: HttpRequest) -> HttpResponse:
        connect_errors, lost_errors = self._errors
        operation = request.operation
        sent = False
        try:
            # No copy of the headers: aiohttp makes its own multidict of them.
            async with self._session.request(
                request.method, request.url, data=request.body, headers=request.headers
            ) as resp:
                sent = True
                return HttpResponse(resp.status, resp.headers, await resp.read())
        # aiohttp's exceptions carry the request, signed headers included: they are described
        # here and not chained, so no traceback can print a signature or a session token.
        except connect_errors as exc:
            # A connect timeout costs the retry quota more than a refusal (as in botocore).
            code = "ConnectTimeout" if isinstance(exc, asyncio.TimeoutError) else "ConnectError"
            raise TransportError(f"{operation}: could not connect ({_describe(exc)})",
                                 code=code, sent=False) from None  # fmt: skip
        except lost_errors as exc:
            code = "Timeout" if isinstance(exc, asyncio.TimeoutError) else "ConnectionLost"
            where = "reading the response" if sent else "sending the request"
            raise TransportError(f"{operation}: {_describe(exc)} while {where}",
                                 code=code, sent=True) from None  # fmt: skip

    async def close(self) -> None:
        await self._session.close()


def _aiohttp_errors(aiohttp: Any) -> tuple[tuple[type[BaseException], ...], ...]:
    connect: tuple[type[BaseException], ...] = (
        aiohttp.ClientConnectorError,
        aiohttp.ConnectionTimeoutError,
    )
    lost: tuple[type[BaseException], ...] = (asyncio.TimeoutError, aiohttp.ClientError, OSError)
    return connect, lost


def _describe(exc: BaseException) -> str:
    """An exception's class and OS error, without its arguments (which may hold a request)."""
    errno = getattr(exc, "errno", None)
    strerror = getattr(exc, "strerror", None)
    return f"{type(exc).__name__}" + (f" [{errno}] {strerror}" if strerror else "")


if TYPE_CHECKING:
    _check: type[Transport] = AiohttpTransport
    _check_mock: type[Transport] = MockTransport
    _session_type: type[aiohttp.ClientSession]
