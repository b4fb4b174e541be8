"""LocalECS for synchronous code: its own event loop on a background thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from types import TracebackType
from typing import Generic, Protocol, TypeVar


class _Server(Protocol):
    """What the thread serves: anything started and closed on its loop (in practice LocalECS,
    whose module imports this one - so this module names no server class)."""

    async def start(self) -> object: ...

    async def close(self) -> None: ...


_S = TypeVar("_S", bound=_Server)


class LocalECSThread(Generic[_S]):
    """Serves a :class:`LocalECS` from a daemon thread running its own event loop.

    For code that cannot ``await`` (boto3, ``unittest``, sync pytest tests): the server answers
    while the calling thread blocks in its client. Made by ``LocalECS.in_thread(...)``::

        with LocalECS.in_thread(latency_ms=20) as local:
            local.seed_tasks(3, cluster="prod")
            ecs = boto3.client("ecs", **local.endpoint.client_kwargs())

    or, where a ``with`` block does not fit (``setUp``/``tearDown``, a session fixture),
    ``local = server.start()`` ... ``server.stop()``. Leaving stops the server and joins the
    thread; requests in flight get up to a second to finish.
    """

    def __init__(self, local: _S, *, timeout: float = 30.0) -> None:
        self.local = local
        self.timeout = timeout
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def start(self) -> _S:
        """Start the thread and wait until the server listens; returns the LocalECS."""
        if self._thread is not None:
            return self.local
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        thread = threading.Thread(
            target=asyncio.run, args=(self._serve(started),), name="LocalECS", daemon=True
        )
        thread.start()
        try:
            started.result(self.timeout)
        except BaseException:
            thread.join(self.timeout)
            raise
        self._thread = thread
        return self.local

    def stop(self) -> None:
        """Stop the server, close its connections and join the thread. Idempotent."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        thread.join(self.timeout)

    async def _serve(self, started: concurrent.futures.Future[None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await self.local.start()
        except BaseException as e:
            started.set_exception(e)
            return
        started.set_result(None)
        try:
            await self._stop.wait()
        finally:
            await self.local.close()

    def __enter__(self) -> _S:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
