"""`iter_tasks`: every task of one or more clusters as a stream, as fast as ECS allows.

ListTasks pages form a chain (each needs the previous `nextToken`), so the chain is the
critical path: the next ListTasks is sent the moment a page arrives, and that page's
DescribeTasks (at most 100 ARNs per call, as ECS requires) runs concurrently, bounded by a
semaphore. Described tasks wait in a small queue as raw JSON and are decoded a page at a
time by the consumer (about a millisecond), handed out a few between turns of the event loop,
so a slow consumer stops the pipeline (back-pressure) and decoding never holds a ListTasks
response up for long.

Under ECS's request quotas the client paces and retries throttled calls itself; the fan-out
adds a second line for other transient faults (5xx, resets, answers cut short): a ListTasks
page or DescribeTasks batch whose call failed is requested again after a pause, with the same
`nextToken`, so that only a sustained outage or an error that retrying cannot fix ends it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import _retry
from . import _task_pages as pages
from ._digests import DigestSet
from ._exceptions import CallError
from ._paginate import token_chain, wire_token
from ._stream import Stream

if TYPE_CHECKING:
    from . import models

__all__ = ["TaskStream"]

# Decoded tasks handed out before the event loop gets a turn: few, so that a ListTasks answer
# never waits long behind a consumer's work on them.
_YIELD_EVERY = 4
# Pauses before requesting a failed page or batch again, after the client's own retries gave
# up: a minute of outage is ridden out; longer, and the stream ends with the error.
_PAUSES = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)

Send = Callable[[str, dict[str, Any], _retry.RequestCounts, "float | None"], Awaitable[Any]]


class TaskStream(Stream["models.Task"]):
    """An async iterator of `Task` models; single use.

    Tasks that vanished between ListTasks and DescribeTasks are not dropped silently: they
    are collected in `failures` (reason `MISSING` from ECS, or `NOT_RETURNED` when ECS
    answered neither a task nor a failure for an ARN). Read it after the loop; `listed` and
    `yielded` count ARNs listed and tasks handed out, `counts` the requests sent, throttled
    and retried.

    A cluster whose calls fail with an error that retrying cannot fix (ClusterNotFound,
    AccessDenied) or that stays down does not stop the others: their tasks are streamed to
    the end, then the stream raises the first such error, its message naming the cluster;
    `errors` maps every failed cluster to its error. With `clusters="*"` (`clusters` None), a
    cluster deleted while it is streamed is no longer one of them: no error; the tasks it
    listed but could not describe are in `failures` (reason `MISSING`).

    Leaving the loop early (`break`, an exception, cancellation) cancels every request in
    flight; `async with` makes that cleanup deterministic instead of waiting for the
    generator to be finalized.
    """

    def __init__(
        self,
        send: Send,
        clusters: Sequence[str] | None,
        list_clusters: Callable[[], AsyncIterator[str]] | None,
        list_params: dict[str, Any],
        include: list[str] | None,
        concurrency: int,
        deadline: float | None = None,
    ) -> None:
        super().__init__()
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if deadline is not None and deadline <= 0:
            raise ValueError("deadline is a number of seconds, more than 0")
        self._timeout = deadline
        self._deadline: float | None = None
        self._send = send
        self._clusters = clusters
        self._list_clusters = list_clusters
        self._list_params = list_params
        self._include = include
        self._concurrency = concurrency
        self.failures: list[models.Failure] = []
        self.errors: dict[str, CallError] = {}
        self._progress = False  # whether any call of this stream has succeeded
        self.counts = _retry.RequestCounts()
        self.listed = 0
        self.yielded = 0

    def __repr__(self) -> str:
        counts = self.counts
        return (
            f"<TaskStream listed={self.listed} yielded={self.yielded} requests={counts.sent}"
            f" throttled={counts.throttled} retried={counts.retried}>"
        )

    async def _generate(self) -> AsyncGenerator[models.Task, None]:
        if self._timeout is not None:
            self._deadline = time.monotonic() + self._timeout
        queue: asyncio.Queue[list[Any] | BaseException | None] = asyncio.Queue(maxsize=2)
        runner = asyncio.ensure_future(self._run(queue))
        # Loading the Task decoder (Task's module and its 40 nested classes) takes tens of ms, once
        # per process: do it on a worker thread while the first requests are on the network.
        warm_up = asyncio.get_running_loop().run_in_executor(None, pages.task_decoder)
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
                for task in pages.decoded_page(decode_task, batch):
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
        seen = DigestSet()  # every ARN listed, for the whole stream
        try:
            clusters = await self._chosen_clusters()
            chains = [
                asyncio.ensure_future(self._chain(c, (slots, room), children, seen, queue))
                for c in clusters
            ]
            children.update(chains)
            await asyncio.gather(*chains)
            children.difference_update(chains)
            while children:  # describes still running after the last page
                await asyncio.wait(list(children))
            if self.errors:
                cluster, error = next(iter(self.errors.items()))
                await queue.put(_naming(cluster, error))
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
        seen: DigestSet,
        queue: asyncio.Queue[list[Any] | BaseException | None],
    ) -> None:
        # The chain awaits each ListTasks itself and only schedules DescribeTasks: the next
        # ListTasks leaves in the same turn of the event loop that received the page.
        params = {**self._list_params, "cluster": cluster}
        room = limits[1]

        def list_tasks(token: str | None) -> Awaitable[Any]:
            return self._call("ListTasks", {**params, "nextToken": token} if token else params)

        try:
            async for page in token_chain(list_tasks, wire_token):
                arns = pages.new_arns(page, seen)
                self.listed += len(arns)
                for batch in pages.batches(arns):
                    await room.acquire()
                    child = asyncio.ensure_future(self._describe(cluster, batch, limits, queue))
                    children.add(child)
                    child.add_done_callback(children.discard)
        except CallError as error:
            self._failed(cluster, error)

    async def _describe(
        self,
        cluster: str,
        arns: list[str],
        limits: tuple[asyncio.Semaphore, asyncio.Semaphore],
        queue: asyncio.Queue[list[Any] | BaseException | None],
    ) -> None:
        slots, room = limits
        try:
            params = pages.describe_params(cluster, arns, self._include)
            # The slot is held until the tasks are handed over: a full queue (a slow
            # consumer) holds the next calls back, and so, through `room`, the chain.
            async with slots:
                data = await self._call("DescribeTasks", params)
                tasks, failures = pages.account(arns, data)
                self.failures.extend(failures)
                if tasks:
                    await queue.put(tasks)
        except CallError as error:  # the cluster's error; the other clusters go on
            if self._failed(cluster, error):
                self.failures.extend(pages.gone_with_cluster(arn, cluster) for arn in arns)
        except Exception as exc:  # the consumer raises it, which stops the whole pipeline
            await queue.put(exc)
        finally:
            room.release()

    async def _chosen_clusters(self) -> list[str]:
        if self._list_clusters is not None:
            return [arn async for arn in self._list_clusters()]
        if self._clusters is None:
            return [arn async for arn in pages.every_cluster(self._call)]
        return list(self._clusters)

    def _failed(self, cluster: str, error: CallError) -> bool:
        """Record a cluster's error; True if it is only that the cluster was deleted while
        every cluster was streamed (`"*"`): it is then no longer one of them, not an error."""
        if self._clusters is None and pages.cluster_gone(error):
            return True
        self.errors.setdefault(cluster, error)
        return False

    async def _call(self, operation: str, params: dict[str, Any]) -> Any:
        """One call of the fan-out, requested again after a pause while its failure is one
        that time may cure (the client has already retried it as far as it would)."""
        for pause in (*_PAUSES, None):
            try:
                data = await self._send(operation, params, self.counts, self._deadline)
                self._progress = True
                return data
            except CallError as error:
                now = time.monotonic()
                late = self._deadline is not None and now + (pause or 0) >= self._deadline
                # Before ECS has answered anything (a wrong endpoint, no network), persisting
                # would only make the caller wait a minute for the same error.
                hopeless = not self._progress or _retry.classify(error) is None
                if pause is None or late or hopeless:
                    raise
                self.counts.retried += 1
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover


def _naming(cluster: str, error: CallError) -> CallError:
    """The same error, of the same class, with the cluster it came from in its message."""
    named = type(error).__new__(type(error))
    named.__dict__.update(error.__dict__)
    named.message = f"cluster {cluster!r}: {error.message}"
    named.args = (str(named),)
    named.__cause__ = error
    return named
