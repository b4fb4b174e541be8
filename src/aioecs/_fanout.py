"""`iter_tasks`: every task of one or more clusters as a stream, as fast as ECS allows.

ListTasks pages form a chain (each needs the previous `nextToken`), so the chain is the
critical path: the next ListTasks is sent the moment a page arrives, and that page's
DescribeTasks (at most 100 ARNs per call, as ECS requires) runs concurrently, bounded by a
semaphore. Described tasks wait in a small queue as raw JSON and are decoded one at a time
by the consumer, a few tasks between turns of the event loop, so a slow consumer stops the
pipeline (back-pressure) and decoding never holds a ListTasks response up for long.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from . import serde
from ._exceptions import ResponseError

if TYPE_CHECKING:
    from . import models

__all__ = ["TaskStream"]

DESCRIBE_LIMIT = 100  # DescribeTasks accepts at most 100 tasks per call
# Decoded tasks handed out before the event loop gets a turn: small, so that a ListTasks
# answer never waits long behind decoding (one task takes ~0.1 ms to decode).
_YIELD_EVERY = 4

Send = Callable[[str, dict[str, Any]], Awaitable[Any]]
T = TypeVar("T")


class TaskStream:
    """An async iterator of `Task` models; single use.

    Tasks that vanished between ListTasks and DescribeTasks are not dropped silently: they
    are collected in `failures` (reason `MISSING` from ECS, or `NOT_RETURNED` when ECS
    answered neither a task nor a failure for an ARN). Read it after the loop; `listed` and
    `yielded` count ARNs listed and tasks handed out. Leaving the loop early (`break`, an
    exception, cancellation) cancels every request in flight; `async with` makes that
    cleanup deterministic instead of waiting for the generator to be finalized.
    """

    def __init__(
        self,
        send: Send,
        clusters: Sequence[str] | None,
        list_clusters: Callable[[], AsyncIterator[str]] | None,
        list_params: dict[str, Any],
        include: list[str] | None,
        concurrency: int,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._send = send
        self._clusters = clusters
        self._list_clusters = list_clusters
        self._list_params = list_params
        self._include = include
        self._concurrency = concurrency
        # Weak, so that dropping the loop (a plain `break`) lets the generator be finalized,
        # which cancels the pipeline: the pipeline refers to this stream, not to its iterator.
        self._iterator: weakref.ref[AsyncGenerator[models.Task, None]] | None = None
        self._pinned: AsyncGenerator[models.Task, None] | None = None
        self._entered = False
        self.failures: list[models.Failure] = []
        self.listed = 0
        self.yielded = 0

    def __repr__(self) -> str:
        return f"<TaskStream listed={self.listed} yielded={self.yielded}>"

    def __aiter__(self) -> AsyncGenerator[models.Task, None]:
        if self._iterator is not None:
            raise RuntimeError("a TaskStream can be iterated only once")
        iterator = self._stream()
        self._iterator = weakref.ref(iterator)
        if self._entered:  # inside `async with`, the exit closes it: keep it until then
            self._pinned = iterator
        return iterator

    async def __aenter__(self) -> TaskStream:
        self._entered = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the pipeline now and wait until nothing of it is left running."""
        iterator = self._iterator() if self._iterator is not None else None
        self._pinned = None
        if iterator is not None:
            await iterator.aclose()

    async def _stream(self) -> AsyncGenerator[models.Task, None]:
        queue: asyncio.Queue[list[Any] | BaseException | None] = asyncio.Queue(maxsize=2)
        runner = asyncio.ensure_future(self._run(queue))
        # Building the Task decoder (model classes, cattrs functions) takes tens of ms, once
        # per process: do it on a worker thread while the first requests are on the network.
        warm_up = asyncio.get_running_loop().run_in_executor(None, _task_decoder)
        try:
            decode_task = None
            while True:
                batch = await queue.get()
                if batch is None:
                    break
                if isinstance(batch, BaseException):
                    raise batch
                if decode_task is None:
                    decode_task = await warm_up
                for raw in batch:
                    task = _decoded(decode_task, raw)
                    self.yielded += 1
                    yield task
                    if self.yielded % _YIELD_EVERY == 0:
                        await asyncio.sleep(0)
        finally:
            if not runner.done():
                runner.cancel()
            await asyncio.gather(runner, warm_up, return_exceptions=True)

    async def _run(self, queue: asyncio.Queue[list[Any] | BaseException | None]) -> None:
        slots = asyncio.Semaphore(self._concurrency)  # DescribeTasks calls in flight
        # DescribeTasks calls scheduled (waiting for a slot, in flight or handing over their
        # tasks): the chain waits only when this is full, i.e. when the consumer is slow.
        room = asyncio.Semaphore(2 * self._concurrency)
        children: set[asyncio.Future[None]] = set()
        seen: set[str] = set()
        try:
            clusters = list(self._clusters or [])
            if self._list_clusters is not None:
                clusters = [arn async for arn in self._list_clusters()]
            chains = [
                asyncio.ensure_future(self._chain(c, (slots, room), children, seen, queue))
                for c in clusters
            ]
            children.update(chains)
            await asyncio.gather(*chains)
            children.difference_update(chains)
            while children:  # describes still running after the last page
                await asyncio.wait(list(children))
            await queue.put(None)
        except Exception as exc:  # hand the error to the consumer
            await queue.put(exc)
        finally:
            for child in children:
                child.cancel()
            await asyncio.gather(*children, return_exceptions=True)

    async def _chain(
        self,
        cluster: str,
        limits: tuple[asyncio.Semaphore, asyncio.Semaphore],
        children: set[asyncio.Future[None]],
        seen: set[str],
        queue: asyncio.Queue[list[Any] | BaseException | None],
    ) -> None:
        # The chain awaits each ListTasks itself and only schedules DescribeTasks: the next
        # ListTasks leaves in the same turn of the event loop that received the page.
        params = {**self._list_params, "cluster": cluster}
        room = limits[1]
        tokens: set[str] = set()
        token: str | None = None
        while True:
            page = await self._send(
                "ListTasks", {**params, "nextToken": token} if token else params
            )
            arns = [arn for arn in page.get("taskArns", ()) if arn not in seen]
            seen.update(arns)
            self.listed += len(arns)
            for start in range(0, len(arns), DESCRIBE_LIMIT):
                await room.acquire()
                batch = arns[start : start + DESCRIBE_LIMIT]
                child = asyncio.ensure_future(self._describe(cluster, batch, limits, queue))
                children.add(child)
                child.add_done_callback(children.discard)
            token = page.get("nextToken")
            if not token or token in tokens:  # a repeated token ends the chain
                return
            tokens.add(token)

    async def _describe(
        self,
        cluster: str,
        arns: list[str],
        limits: tuple[asyncio.Semaphore, asyncio.Semaphore],
        queue: asyncio.Queue[list[Any] | BaseException | None],
    ) -> None:
        slots, room = limits
        try:
            params: dict[str, Any] = {"cluster": cluster, "tasks": arns}
            if self._include:
                params["include"] = self._include
            # The slot is held until the tasks are handed over: a full queue (a slow
            # consumer) holds the next calls back, and so, through `room`, the chain.
            async with slots:
                data = await self._send("DescribeTasks", params)
                tasks = self._account(arns, data)
                if tasks:
                    await queue.put(tasks)
        except Exception as exc:  # the consumer raises it, which stops the whole pipeline
            await queue.put(exc)
        finally:
            room.release()

    def _account(self, arns: list[str], data: Any) -> list[Any]:
        """The raw tasks to yield from one DescribeTasks answer, each requested ARN once;
        ARNs answered with a failure, or not at all, go to `failures`."""
        from . import models

        wanted = set(arns)
        tasks = []
        for raw in data.get("tasks", ()):
            arn = raw.get("taskArn")
            if arn in wanted:  # each listed ARN once, even if ECS repeats one
                wanted.discard(arn)
                tasks.append(raw)
        for raw in data.get("failures", ()):
            failure = _decoded(_failure, raw)
            wanted.discard(failure.arn or "")
            self.failures.append(failure)
        for arn in sorted(wanted):
            self.failures.append(
                models.Failure(arn=arn, reason="NOT_RETURNED", detail="DescribeTasks omitted it")
            )
        return tasks


@functools.cache
def _task_decoder() -> Callable[[Any], models.Task]:
    from . import models

    return serde.decoder(models.Task)


def _failure(raw: Any) -> models.Failure:
    from . import models

    return serde.decode(models.Failure, raw)


def _decoded(decode: Callable[[Any], T], raw: Any) -> T:
    """A model from one element of a DescribeTasks answer; one that does not fit the model is
    a `ResponseError`, as it is for every other call."""
    try:
        return decode(raw)
    except Exception as exc:
        raise ResponseError(
            f"DescribeTasks answer does not match the model: {type(exc).__name__}",
            code="InvalidResponse",
            status=200,
        ) from exc
