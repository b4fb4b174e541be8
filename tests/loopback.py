"""Misbehaving HTTP servers on loopback: real sockets on free ports, each doing one wrong
thing for every request (never answering, stalling mid-body, throttling forever, closing the
connection), for the tests of deadlines, `close()` and cancellation."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aioecs import Credentials, ECSClient

Behaviour = Callable[["Loopback", asyncio.StreamWriter], Awaitable[None]]

THROTTLED_BODY = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'


class Loopback:
    """A server on 127.0.0.1 that treats every request with `behaviour`; `requests` counts
    the requests it has read (whole headers), `connections` the connections accepted."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.requests = 0
        self.connections = 0
        self.url = ""
        self.stopping = asyncio.Event()  # set on exit: every behaviour returns
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> Loopback:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.stopping.set()
        for writer in list(self._writers):
            writer.close()  # a handler waiting for the next request reads the end
        await self._server.wait_closed()
        while self._writers:
            await asyncio.sleep(0.001)

    def client(self, **options: object) -> ECSClient:
        settings: dict[str, object] = {
            "region": "us-east-1",
            "endpoint_url": self.url,
            "allow_http": True,
            "credentials": Credentials(access_key_id="AKIDLOOP", secret_access_key="secret"),
        }
        return ECSClient(**(settings | options))  # type: ignore[arg-type]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        self.connections += 1
        try:
            while not self.stopping.is_set() and await _read_request(reader):
                self.requests += 1
                await self.behaviour(self, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> bool:
    """Read one request (headers and body); False at the end of the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return True


async def never_answers(server: Loopback, writer: asyncio.StreamWriter) -> None:
    await server.stopping.wait()


async def stalls_mid_body(server: Loopback, writer: asyncio.StreamWriter) -> None:
    body = b'{"clusterArns": ["arn:aws:ecs:us-east-1:1:cluster/a"]}'
    writer.write(_head(200, len(body)) + body[:10])
    await writer.drain()
    await server.stopping.wait()


async def throttles(server: Loopback, writer: asyncio.StreamWriter) -> None:
    writer.write(_head(400, len(THROTTLED_BODY)) + THROTTLED_BODY)
    await writer.drain()


async def closes_the_connection(server: Loopback, writer: asyncio.StreamWriter) -> None:
    raise ConnectionResetError  # the handler closes the connection without a word


def _head(status: int, length: int) -> bytes:
    return (
        f"HTTP/1.1 {status} X\r\nContent-Type: application/x-amz-json-1.1\r\n"
        f"x-amzn-RequestId: r-loop\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


@contextlib.asynccontextmanager
async def loopback(behaviour: Behaviour) -> AsyncIterator[Loopback]:
    async with Loopback(behaviour) as server:
        yield server
