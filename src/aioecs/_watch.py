"""`watch_tasks`: the changes of a fleet's tasks as a stream, for the price of its ListTasks pages.

ECS's API has no change feed, so a watcher polls. Re-describing every task on every poll costs
two read tokens per 100 tasks (a ListTasks page and a DescribeTasks call) from the account's
read bucket, which every other caller of ListTasks and DescribeTasks shares. A sweep here lists
the ARNs and describes only the tasks that may have changed:

- ARNs that are new to the listing (`added`);
- known tasks that left the RUNNING listing: a stop was requested or the task exited
  (`stopping`, then `stopped`), or ECS no longer knows them (`vanished`);
- tasks that have not settled (last status not RUNNING, or a stop in progress), every sweep;
- settled tasks at their refresh turn, every `refresh` sweeps, to catch health and other
  changes the listing cannot show (`changed`). Turns are spread over the sweeps so that a large
  fleet never re-describes itself in one burst; a DescribeTasks call that goes out anyway
  takes the tasks next in line up to its 100, for free.

New ARNs are described as soon as their ListTasks page arrives, as in the fan-out; only what
left the listing waits for the whole listing. A sweep's state changes only as its changes are
handed to the consumer, one DescribeTasks answer at a time, and what a sweep does is decided
from the listing and that state alone; so a sweep that fails midway is simply done again at
the next interval, and every change is reported once.
"""

from __future__ import annotations

import asyncio
import functools
import os
import warnings
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import attrs

from . import _task_pages as pages
from . import serde
from ._exceptions import CallError
from ._limits import DESCRIBE_TASKS_MAX
from ._paginate import token_chain, wire_token
from ._retry import RequestCounts, classify
from ._stream import Stream
from ._watch_state import KEPT_NAMES, StateFile

if TYPE_CHECKING:
    from . import models

__all__ = ["ChangeKind", "TaskChange", "TaskWatch", "WatchStats"]

ChangeKind = Literal["added", "changed", "stopping", "stopped", "vanished"]
Send = Callable[[str, dict[str, Any], RequestCounts], Awaitable[Any]]
# Why a DescribeTasks call was made: for ARNs new to the listing, for known tasks before the
# listing is in (still starting, or their refresh turn), or for known tasks that left it.
_Purpose = Literal["new", "known", "gone"]

SNAPSHOT_FORMAT = "aioecs.watch_tasks/1"
_RUNNING = "RUNNING"
_STOPPED = "STOPPED"


@dataclass(frozen=True)
class TaskChange:
    """One change of one task, reported once.

    `kind` is one of:

    - `added`: the task is new to the listing (on the first sweep: every task listed).
    - `changed`: the task's description changed; `changed` names the members that differ.
    - `stopping`: a stop was requested (or its essential container exited) and ECS is taking
      the task down: desired status STOPPED, last status not yet. A task first seen already
      stopping is reported `added`, then at once `stopping` with `previous` None.
    - `stopped`: last status STOPPED; `task.stopped_reason`, `stop_code`, `stopped_at` and each
      container's `exit_code` are as ECS reports them. `previous` is None if the task stopped
      before the watch ever saw it running. The task then leaves the watch's state.
    - `vanished`: the task left the listing and ECS no longer describes it (it stopped longer
      ago than ECS remembers, about an hour, e.g. while a resumed watcher was down). `task` is
      the last description the watch had, `previous` None, `failure` ECS's answer (reason
      `MISSING`, or `NOT_RETURNED` if ECS answered neither task nor failure).
    """

    kind: ChangeKind
    task: models.Task
    """The task as last described."""
    previous: models.Task | None
    """The task as described before this change; None for `added` and `vanished`."""
    changed: tuple[str, ...] = ()
    """Members (snake_case attribute names) that differ between `previous` and `task`."""
    failure: models.Failure | None = None
    """For `vanished`: why ECS did not describe the task."""


@dataclass
class WatchStats:
    """What the watch has done so far; `requests` and `throttled` count calls, each after the
    client's own retries."""

    sweeps: int = 0
    """Sweeps completed."""
    failed_sweeps: int = 0
    """Sweeps abandoned after a transient error (and done again at the next interval)."""
    requests: int = 0
    """ListClusters, ListTasks and DescribeTasks calls made, in all sweeps."""
    last_sweep_requests: int = 0
    """Calls made by the last completed sweep."""
    throttled: int = 0
    """Calls that still failed with throttling once the client stopped retrying them (each
    attempt answered throttled is in `TaskWatch.counts`)."""
    last_error: CallError | None = None
    """The transient error that ended the last failed sweep."""
    state_writes: int = 0
    """Writes to the state file (`state_file=`): appends of changes and rewrites."""
    state_bytes: int = 0
    """Bytes written to the state file."""


@dataclass(eq=False)
class _Entry:
    """What the watch knows of one live task: its last description and when it was made."""

    task: models.Task
    cluster: str  # what DescribeTasks is sent with: the cluster of the listing it came from
    described: int  # the sweep that described it last
    partial: bool = False  # restored from a state file: only the members it keeps


@dataclass(eq=False)
class _Answer:
    """One DescribeTasks answer, on its way from the sweep to the consumer: each requested
    task once (raw JSON, decoded by the consumer) and a failure for every other ARN."""

    purpose: _Purpose
    cluster: str
    tasks: list[Any]
    failures: list[models.Failure]


@dataclass
class _Selection:
    """Which tasks the watch follows; part of a snapshot, so that one is not resumed for
    another selection."""

    clusters: list[str] | None  # None: every cluster ("*")
    list_params: dict[str, Any]
    include: list[str] | None

    def to_json(self) -> dict[str, Any]:
        return {"clusters": self.clusters, "filters": self.list_params, "include": self.include}


@dataclass
class _SweepPlan:
    listed: set[str] = field(default_factory=set)  # ARNs in the listing so far
    returned: set[str] = field(default_factory=set)  # ARNs ECS described


class TaskWatch(Stream[TaskChange]):
    """An async iterator of `TaskChange`s that runs until it is left or fails; single use.

    A transient failure (throttling, 5xx, a reset connection, a timeout), once the client has
    given up retrying it, abandons the sweep; the next sweep starts at the next interval and
    finds everything the failed one did not report. Any other error (ClusterNotFound for a
    named cluster, AccessDenied, invalid credentials, a task that does not fit the model) ends
    the stream with that error. A deleted cluster's known tasks are reported `vanished`.
    `snapshot()` returns the state as JSON-ready data for a later
    `watch_tasks(..., snapshot=...)`. Leaving the loop
    (`break`, an exception, cancellation) cancels every request in flight; `async with` makes
    that cleanup deterministic.
    """

    def __init__(
        self,
        send: Send,
        selection: _Selection,
        *,
        interval: float,
        refresh: int | None,
        concurrency: int,
        snapshot: dict[str, Any] | None,
        state_file: str | os.PathLike[str] | None = None,
        on_sweep: Callable[[TaskWatch], object] | None = None,
        pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__()
        self._pause = pause  # the client's: close() wakes a watch between sweeps
        if snapshot is not None and state_file is not None:
            raise ValueError("pass snapshot or state_file, not both")
        if interval < 0:
            raise ValueError("interval must not be negative")
        if refresh is not None and refresh < 1:
            raise ValueError("refresh must be at least 1 (or None: never)")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._send_call = send
        self._selection = selection
        self._interval = interval
        self._refresh = refresh
        self._concurrency = concurrency
        # ARN -> entry, least recently described first (an entry moves to the end when it is
        # described), so refresh turns are taken from the front.
        self._known: dict[str, _Entry] = {}
        # Stopped or vanished ARNs that the listing still showed when reported: ListTasks is
        # eventually consistent, and a task reported stopped must not come back as added.
        self._reported: set[str] = set()
        self._sweep = 0
        self._sweep_requests = 0
        self._request_error: BaseException | None = None
        self.stats = WatchStats()
        self.counts = RequestCounts()  # every attempt: sent, throttled, retried
        self._on_sweep = on_sweep
        self._state: StateFile | None = None
        if snapshot is not None:
            self._restore(snapshot)
        if state_file is not None:
            self._load(state_file)

    def __repr__(self) -> str:
        return f"<TaskWatch known_count={len(self._known)} sweeps={self.stats.sweeps}>"

    @property
    def known_count(self) -> int:
        """How many live tasks the watch holds; `tasks()` returns them."""
        return len(self._known)

    @property
    def known(self) -> int:
        """Deprecated: the count it always was, now named `known_count`."""
        warnings.warn(
            "TaskWatch.known is a count: use TaskWatch.known_count", DeprecationWarning, 2
        )
        return len(self._known)

    def tasks(self) -> list[models.Task]:
        """Every live task as last described: the fleet as the watch sees it."""
        return [entry.task for entry in self._known.values()]

    # -- snapshots ---------------------------------------------------------------------------------

    def _load(self, path: str | os.PathLike[str]) -> None:
        self._state = StateFile(path, self._selection.to_json())
        loaded = self._state.load()
        if loaded is not None:
            self._sweep, self._reported = loaded.sweep, loaded.reported
            for arn, (task, cluster, described) in loaded.tasks.items():
                self._known[arn] = _Entry(task, cluster, described, partial=True)

    def snapshot(self) -> dict[str, Any]:
        """The state as JSON-ready data: every live task as last described, and the selection.

        Reflects exactly the changes handed out so far, so a watcher that saves it after
        handling a change and resumes from it later gets every later change once. Tasks are in
        their wire form (as DescribeTasks returns them), so `json.dumps` takes it as it is.
        """
        return {
            "format": SNAPSHOT_FORMAT,
            "selection": self._selection.to_json(),
            "sweep": self._sweep,
            "tasks": [
                {"cluster": e.cluster, "described": e.described, "task": serde.encode(e.task)}
                for e in self._known.values()
            ],
            "reported": sorted(self._reported),
        }

    def _restore(self, snapshot: dict[str, Any]) -> None:
        if not isinstance(snapshot, dict) or snapshot.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"not a watch_tasks snapshot (format {SNAPSHOT_FORMAT!r} expected)")
        if snapshot.get("selection") != self._selection.to_json():
            raise ValueError(
                "the snapshot was taken for other clusters, filters or include: "
                f"{snapshot.get('selection')!r}"
            )
        decode = pages.task_decoder()
        self._sweep = int(snapshot["sweep"])
        for item in snapshot["tasks"]:
            task = decode(item["task"])
            if task.task_arn:
                self._known[task.task_arn] = _Entry(task, item["cluster"], int(item["described"]))
        self._reported = set(snapshot.get("reported", ()))

    # -- the sweeps --------------------------------------------------------------------------------

    async def _generate(self) -> AsyncGenerator[TaskChange, None]:
        loop = asyncio.get_running_loop()
        # Sweeps start `interval` apart, start to start; one that overran is followed at once.
        next_start = loop.time()
        try:
            self._save_all()
            while True:
                pause = next_start - loop.time()
                if pause > 0:
                    await self._pause(pause)
                next_start = max(next_start + self._interval, loop.time())
                self._sweep_requests = 0
                sweep = self._run_sweep()
                try:
                    async for change in sweep:
                        yield change
                        # Back for the next change: the consumer has handled this one.
                        self._save(change)
                except CallError as error:
                    # Only a request's error abandons the sweep; one raised while handing out
                    # changes (a task that does not fit the model) ends the stream.
                    if error is not self._request_error or classify(error) is None:
                        raise
                    self.stats.failed_sweeps += 1
                    self.stats.last_error = error
                else:
                    self.stats.sweeps += 1
                    self.stats.last_sweep_requests = self._sweep_requests
                finally:
                    # Left in the middle of a sweep: its requests are cancelled now, not when
                    # the garbage collector finds the sweep.
                    await sweep.aclose()
                    self.stats.requests += self._sweep_requests
                self._sweep_ended()
        finally:
            self._close_state()

    # -- the state file ----------------------------------------------------------------------------

    def _save_all(self) -> None:
        """A state file starts as the whole state (a resumed one is rewritten, so that a line
        a crash cut short is gone before anything is appended)."""
        if self._state is not None:
            self._state.rewrite(self._sweep, self._entries(), self._reported)
            self._count_writes()

    def _save(self, change: TaskChange) -> None:
        if self._state is not None:
            arn = change.task.task_arn or ""
            entry = self._known.get(arn)
            self._state.record(
                arn, None if entry is None else (entry.task, entry.cluster, entry.described)
            )
            self._count_writes()

    def _sweep_ended(self) -> None:
        if self._state is not None:
            self._state.end_sweep(self._sweep, self._entries(), len(self._known), self._reported)
            self._count_writes()
        if self._on_sweep is not None:
            self._on_sweep(self)

    def _entries(self) -> Iterator[tuple[models.Task, str, int]]:
        return ((e.task, e.cluster, e.described) for e in self._known.values())

    def _count_writes(self) -> None:
        assert self._state is not None
        self.stats.state_writes, self.stats.state_bytes = self._state.writes, self._state.bytes

    def _close_state(self) -> None:
        if self._state is not None:
            self._state.flush(sync=True)
            self._state.close()
            self._count_writes()

    # -- the sweeps --------------------------------------------------------------------------------

    async def _run_sweep(self) -> AsyncGenerator[TaskChange, None]:
        sweep = self._sweep
        self._sweep += 1
        queue: asyncio.Queue[_Answer | BaseException | None] = asyncio.Queue(maxsize=2)
        runner = asyncio.ensure_future(self._sweep_requests_of(sweep, queue))
        try:
            while True:
                item = await queue.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    self._request_error = item
                    raise item
                for change in self._apply(item, sweep):
                    yield change
        finally:
            if not runner.done():
                runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)

    async def _send(self, operation: str, params: dict[str, Any]) -> Any:
        self._sweep_requests += 1
        try:
            return await self._send_call(operation, params, self.counts)
        except CallError as error:
            if classify(error) == "throttling":
                self.stats.throttled += 1
            raise

    async def _sweep_requests_of(
        self, sweep: int, queue: asyncio.Queue[_Answer | BaseException | None]
    ) -> None:
        """Every request of one sweep; each DescribeTasks answer goes to the consumer."""
        slots = asyncio.Semaphore(self._concurrency)
        children: set[asyncio.Future[None]] = set()
        plan = _SweepPlan()

        def describe(purpose: _Purpose, cluster: str, arns: list[str]) -> asyncio.Future[None]:
            call = self._describe(purpose, cluster, arns, slots, plan, queue)
            child = asyncio.ensure_future(call)
            children.add(child)
            return child

        try:
            clusters = self._selection.clusters
            if clusters is None:
                call = functools.partial(self._slotted, slots)
                clusters = [arn async for arn in pages.every_cluster(call)]
            early = [
                describe("known", cluster, batch)
                for cluster, arns in self._due(sweep).items()
                for batch in pages.batches(arns)
            ]
            chains = [self._list(cluster, slots, plan, describe) for cluster in clusters]
            await asyncio.gather(*chains)
            await asyncio.gather(*early)
            # Only the complete listing tells what left it; a task described before the
            # listing was in and that ECS did not return is asked about once more, as gone.
            gone: dict[str, list[str]] = {}
            for arn, entry in self._known.items():
                if arn not in plan.listed and arn not in plan.returned:
                    gone.setdefault(entry.cluster, []).append(arn)
            for cluster, arns in gone.items():
                for batch in pages.batches(arns):
                    describe("gone", cluster, batch)
            self._reported &= plan.listed
            while children:
                done, _ = await asyncio.wait(children, return_when=asyncio.FIRST_EXCEPTION)
                for child in done:
                    children.discard(child)
                    child.result()
            await queue.put(None)
        except Exception as exc:  # the consumer raises it, which abandons the sweep
            await queue.put(exc)
        finally:
            for child in children:
                child.cancel()
            await asyncio.gather(*children, return_exceptions=True)

    async def _slotted(self, slots: asyncio.Semaphore, operation: str, params: Any) -> Any:
        async with slots:
            return await self._send(operation, params)

    async def _list(
        self,
        cluster: str,
        slots: asyncio.Semaphore,
        plan: _SweepPlan,
        describe: Callable[[_Purpose, str, list[str]], object],
    ) -> None:
        params = {**self._selection.list_params, "cluster": cluster}

        def list_tasks(token: str | None) -> Awaitable[Any]:
            return self._slotted(
                slots, "ListTasks", {**params, "nextToken": token} if token else params
            )

        try:
            async for page in token_chain(list_tasks, wire_token):
                # New ARNs are described now, as in the fan-out: nothing else decides on them.
                new = [
                    arn
                    for arn in pages.new_arns(page, plan.listed)
                    if arn not in self._known and arn not in self._reported
                ]
                for batch in pages.batches(new):
                    describe("new", cluster, batch)
        except CallError as error:
            # Every cluster ("*"): one deleted since ListClusters lists nothing any more.
            if not (self._selection.clusters is None and pages.cluster_gone(error)):
                raise

    def _due(self, sweep: int) -> dict[str, list[str]]:
        """Known tasks to describe before the listing is in, by cluster: every task still
        starting, and settled tasks whose refresh turn it is."""
        refresh = self._refresh
        unsettled: dict[str, list[str]] = {}
        settled: list[tuple[str, _Entry]] = []
        for arn, entry in self._known.items():
            task = entry.task
            if task.desired_status != _RUNNING:
                continue  # leaving: not listed, so described with what left the listing
            if task.last_status != _RUNNING:
                unsettled.setdefault(entry.cluster, []).append(arn)
            elif refresh is not None:
                settled.append((arn, entry))
        if not settled or refresh is None:
            return unsettled
        # At most a `refresh`-th of the settled tasks per sweep, oldest description first: a
        # fleet whose tasks all arrived in one sweep is refreshed over `refresh` sweeps.
        cap = -(-len(settled) // refresh)
        picked: dict[str, list[str]] = {}
        taken = 0
        for arn, entry in settled:
            if taken >= cap or sweep - entry.described < refresh:
                break
            picked.setdefault(entry.cluster, []).append(arn)
            taken += 1
        if not taken and not unsettled:
            return {}
        # A call that goes out anyway takes the next tasks in line, up to its 100.
        due = {cluster: list(arns) for cluster, arns in unsettled.items()}
        for cluster, arns in picked.items():
            due.setdefault(cluster, []).extend(arns)
        room = {cluster: -len(arns) % DESCRIBE_TASKS_MAX for cluster, arns in due.items()}
        chosen = set().union(*due.values())
        for arn, entry in settled:
            if room.get(entry.cluster, 0) > 0 and arn not in chosen:
                due[entry.cluster].append(arn)
                room[entry.cluster] -= 1
        return due

    async def _describe(
        self,
        purpose: _Purpose,
        cluster: str,
        arns: list[str],
        slots: asyncio.Semaphore,
        plan: _SweepPlan,
        queue: asyncio.Queue[_Answer | BaseException | None],
    ) -> None:
        params = pages.describe_params(cluster, arns, self._selection.include)
        # The slot is held until the answer is handed over, so a slow consumer holds the
        # next calls back instead of piling answers up in memory.
        async with slots:
            try:
                data = await self._send("DescribeTasks", params)
            except CallError as error:
                # A deleted cluster describes nothing any more: its known tasks vanish. (A
                # named cluster's listing fails with the same error and ends the stream.)
                named = self._selection.clusters is not None
                if not pages.cluster_gone(error) or (purpose == "new" and named):
                    raise
                failures = [pages.gone_with_cluster(arn, cluster) for arn in arns]
                await queue.put(_Answer(purpose, cluster, [], failures))
                return
            tasks, failures = pages.account(arns, data)
            asked = set(arns)
            failures = [failure for failure in failures if failure.arn in asked]
            plan.returned.update(pages.task_arn(raw) for raw in tasks)
            await queue.put(_Answer(purpose, cluster, tasks, failures))

    # -- from answers to changes -----------------------------------------------------------------

    def _apply(self, answer: _Answer, sweep: int) -> Iterator[TaskChange]:
        """The changes in one DescribeTasks answer, each applied to the state as it is yielded
        (so the state is always what the consumer has been told)."""
        for task in pages.decoded_page(pages.task_decoder(), answer.tasks):
            if answer.purpose == "new":
                yield from self._arrived(task, answer.cluster, sweep)
            else:
                yield from self._described(task, sweep)
        if answer.purpose == "gone":
            # A listed task ECS could not describe: eventual consistency; the next sweep asks
            # again. A known one that left the listing is gone for good.
            for failure in answer.failures:
                entry = self._known.pop(failure.arn or "", None)
                if entry is not None:
                    self._reported.add(failure.arn or "")
                    yield TaskChange("vanished", entry.task, None, failure=failure)

    def _arrived(self, task: models.Task, cluster: str, sweep: int) -> Iterator[TaskChange]:
        arn = task.task_arn or ""
        if arn in self._known or arn in self._reported:
            return  # reported meanwhile by another call of this sweep
        if task.last_status == _STOPPED:
            self._reported.add(arn)
            yield TaskChange("stopped", task, None)
            return
        self._known[arn] = _Entry(task, cluster, sweep)
        yield TaskChange("added", task, None)
        if task.desired_status == _STOPPED:
            # Listed as RUNNING, then a stop was requested before it was described: it is
            # already on its way out, and no later description would say so again.
            yield TaskChange("stopping", task, None)

    def _described(self, task: models.Task, sweep: int) -> Iterator[TaskChange]:
        arn = task.task_arn or ""
        entry = self._known.get(arn)
        if entry is None:
            return
        previous = entry.task
        # A task restored from a state file is compared on what the file keeps.
        diff = _differences(previous, task, KEPT_NAMES if entry.partial else _fields())
        del self._known[arn]  # back at the end: the most recently described
        if task.last_status == _STOPPED:
            self._reported.add(arn)
            yield TaskChange("stopped", task, previous, diff)
            return
        self._known[arn] = _Entry(task, entry.cluster, sweep)
        if task.desired_status == _STOPPED and previous.desired_status != _STOPPED:
            yield TaskChange("stopping", task, previous, diff)
        elif diff:
            yield TaskChange("changed", task, previous, diff)


@functools.cache
def _fields() -> tuple[str, ...]:
    from . import models

    return tuple(f.name for f in attrs.fields(models.Task))


def _differences(old: models.Task, new: models.Task, names: Sequence[str]) -> tuple[str, ...]:
    return tuple(name for name in names if getattr(old, name) != getattr(new, name))


def watch(
    send: Send,
    *,
    cluster: str | None,
    clusters: Sequence[str] | Literal["*"] | None,
    filters: dict[str, Any],
    include: Sequence[str] | None,
    interval: float,
    refresh: int | None,
    concurrency: int,
    snapshot: dict[str, Any] | None,
    state_file: str | os.PathLike[str] | None = None,
    on_sweep: Callable[[TaskWatch], object] | None = None,
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> TaskWatch:
    """`ECSClient.watch_tasks`: the selection checked and encoded before anything is sent."""
    names = pages.selected_clusters(cluster, clusters)
    # AWS lists desired status RUNNING by default, but other implementations (moto) list every
    # status without it; the watch follows the RUNNING listing, so it says so.
    params = pages.list_params({**filters, "desired_status": _RUNNING})
    selection = _Selection(names, params, list(include) if include else None)
    return TaskWatch(
        send,
        selection,
        interval=interval,
        refresh=refresh,
        concurrency=concurrency,
        snapshot=snapshot,
        state_file=state_file,
        on_sweep=on_sweep,
        pause=pause,
    )
