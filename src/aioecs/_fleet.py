"""`iter_fleet_tasks`: the tasks of many accounts and Regions as one stream.

ECS's request quotas are per account and Region, so a sweep of K account-Regions from one
process runs K times faster than one after another: each client paces to its own buckets.
The clients' streams run concurrently and feed one bounded queue (a slow consumer holds them
all back); one account-Region failing is recorded and does not stop the others.

Each task comes once: a client of the same access key, Region and endpoint as an earlier one
is not swept again (its stream stays unused), and a task reached through two clients anyway
(two keys of one account, a FIPS endpoint beside the standard one) is yielded the first time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ._digests import DigestSet
from ._retry import RequestCounts
from ._stream import Stream

if TYPE_CHECKING:
    from . import models
    from ._fanout import TaskStream
    from .client import ECSClient

__all__ = ["FleetFailure", "FleetStream", "FleetTask", "iter_fleet_tasks"]


class FleetTask(NamedTuple):
    """One task of a fleet, with where it came from (read from its ARN)."""

    task: models.Task
    account_id: str
    region: str
    cluster_arn: str | None
    client: ECSClient


class FleetFailure(NamedTuple):
    """An account-Region whose stream ended with an error; its other tasks were streamed."""

    client: ECSClient
    error: BaseException


def iter_fleet_tasks(clients: Sequence[ECSClient], /, **options: Any) -> FleetStream:
    """Every matching task of every client's account and Region, as one stream.

    `options` are `ECSClient.iter_tasks`'s (`cluster`, `clusters`, the ListTasks filters,
    `include`, `concurrency`, `deadline`) and apply to each client. Each task comes once, as a
    `FleetTask`, even if two clients reach the same account and Region (the second of the same
    access key, Region and endpoint is skipped); errors of one client go to `failures` and the
    others go on. Leaving the loop early cancels every client's requests in flight.

    ```python
    clients = [ECSClient(region=r) for r in ("eu-west-1", "us-east-1")]
    async with iter_fleet_tasks(clients, cluster="prod") as fleet:
        async for item in fleet:
            print(item.region, item.task.task_arn)
    ```
    """
    if not clients:
        raise ValueError("iter_fleet_tasks needs at least one client")
    if len(set(map(id, clients))) != len(clients):
        raise ValueError("a client is given twice: its tasks would be listed twice")
    return FleetStream([client.iter_tasks(**options) for client in clients], list(clients))


class FleetStream(Stream[FleetTask]):
    """An async iterator of `FleetTask`s; single use. After the loop, `failures` lists the
    clients whose stream failed, `streams` each client's `TaskStream` (its `failures`,
    `errors` and `counts`), and `counts` the requests of all of them."""

    def __init__(self, streams: list[TaskStream], clients: list[ECSClient]) -> None:
        super().__init__()
        self.streams = streams
        self._clients = clients
        self.failures: list[FleetFailure] = []
        self.yielded = 0
        self._seen = DigestSet()  # task ARNs yielded, across clients

    def __repr__(self) -> str:
        return f"<FleetStream clients={len(self._clients)} yielded={self.yielded}>"

    @property
    def counts(self) -> RequestCounts:
        total = RequestCounts()
        for stream in self.streams:
            total.add(stream.counts)
        return total

    async def _generate(self) -> AsyncGenerator[FleetTask, None]:
        queue: asyncio.Queue[FleetTask | None] = asyncio.Queue(maxsize=256)
        pumps: list[asyncio.Future[None]] = []
        try:
            sweeps = await self._distinct()
            pumps += (asyncio.ensure_future(self._pump(*sweep, queue)) for sweep in sweeps)
            running = len(pumps)
            while running:
                item = await queue.get()
                if item is None:
                    running -= 1
                    continue
                arn = item.task.task_arn
                if arn is not None and not self._seen.add(arn):
                    continue
                self.yielded += 1
                yield item
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            await asyncio.gather(*(s.aclose() for s in self.streams), return_exceptions=True)

    async def _distinct(self) -> list[tuple[ECSClient, TaskStream]]:
        """The clients to sweep, each with its stream: the first of each access key, Region
        and endpoint. A client that cannot connect is a failure, like one whose stream fails."""
        keys = await asyncio.gather(*map(_sweep_key, self._clients), return_exceptions=True)
        sweeps, taken = [], set()
        for client, stream, key in zip(self._clients, self.streams, keys, strict=True):
            if isinstance(key, BaseException):
                if not isinstance(key, Exception):
                    raise key
                self.failures.append(FleetFailure(client, key))
            elif key not in taken:
                taken.add(key)
                sweeps.append((client, stream))
        return sweeps

    async def _pump(
        self, client: ECSClient, stream: TaskStream, queue: asyncio.Queue[FleetTask | None]
    ) -> None:
        try:
            async with stream:
                async for task in stream:
                    await queue.put(_located(task, client))
        except Exception as error:  # this account-Region only; the others go on
            self.failures.append(FleetFailure(client, error))
        await queue.put(None)


async def _sweep_key(client: ECSClient) -> tuple[str, str, str]:
    """What a client sweeps: its access key, Region and endpoint (ECS answers the same tasks
    to every client that shares them)."""
    config = (await client._ready_pipeline()).config
    credentials = await config.credential_provider.get()
    return credentials.access_key_id, config.region, config.endpoint_url


def _located(task: models.Task, client: ECSClient) -> FleetTask:
    # arn:aws:ecs:<region>:<account>:task/<cluster>/<id>
    parts = (task.task_arn or "").split(":", 5)
    region = parts[3] if len(parts) > 4 and parts[3] else (client.region or "")
    account = parts[4] if len(parts) > 4 else ""
    return FleetTask(task, account, region, task.cluster_arn, client)
