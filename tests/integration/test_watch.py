"""`watch_tasks` against LocalECS over real HTTP: lifecycle changes, costs, faults, snapshots."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aioecs import ECSClient, TaskChange, TaskWatch
from aioecs import models as m
from aioecs.errors import ClusterNotFoundException
from aioecs.testing import Faults, LocalECS

from ..servers import MOTO_REGION, client_for, moto_account, moto_cluster_with_instance

# Sweeps follow each other closely: the tests count sweeps and requests, never time.
FAST = 0.005
# A guard against a hang, not a measurement: far above what any of these waits needs.
HANG_GUARD = 60.0


class Clock:
    """LocalECS's clock, moved by the test: task lifecycles advance only when told to."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Watcher:
    """Consumes a watch in the background, so that a test can act between sweeps."""

    def __init__(self, watch: TaskWatch) -> None:
        self.watch = watch
        self.changes: list[TaskChange] = []
        self.error: BaseException | None = None
        self._task = asyncio.ensure_future(self._consume())

    async def _consume(self) -> None:
        try:
            async for change in self.watch:
                self.changes.append(change)
        except Exception as exc:
            self.error = exc

    async def until(self, condition: Callable[[], bool]) -> None:
        async def wait() -> None:
            while not condition():
                if self._task.done():
                    raise AssertionError(f"the watch ended: {self.error!r}")
                await asyncio.sleep(FAST)

        await asyncio.wait_for(wait(), HANG_GUARD)

    async def sweeps(self, count: int) -> None:
        """Wait until `count` more sweeps have completed."""
        target = self.watch.stats.sweeps + count
        await self.until(lambda: self.watch.stats.sweeps >= target)

    def of(self, arn: str) -> list[str]:
        return [c.kind for c in self.changes if c.task.task_arn == arn]

    async def stop(self) -> None:
        """Cancel the consumer, as Ctrl-C or a shutdown would, and wait until it is gone."""
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        assert self.error is None, self.error


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def local(clock: Clock) -> AsyncIterator[LocalECS]:
    async with LocalECS(seed=5, clock=clock, pending_seconds=10, stop_seconds=30) as server:
        yield server


@pytest.fixture
async def ecs(local: LocalECS) -> AsyncIterator[ECSClient]:
    async with client_for(local) as c:
        yield c


def _once_each(changes: list[TaskChange]) -> None:
    counts = Counter((c.task.task_arn, c.kind) for c in changes)
    assert [key for key, n in counts.items() if n > 1] == []


async def test_first_sweep_adds_what_the_listing_shows(ecs: ECSClient, local: LocalECS) -> None:
    running = set(local.seed_tasks(250, cluster="prod"))
    local.seed_tasks(30, cluster="prod", desired_status="STOPPED")
    local.seed_tasks(5, cluster="other")
    watcher = Watcher(ecs.watch_tasks(cluster="prod", interval=FAST))
    await watcher.sweeps(3)
    await watcher.stop()
    assert {c.kind for c in watcher.changes} == {"added"}
    assert [c.task.task_arn for c in watcher.changes].count(None) == 0
    assert Counter(c.task.task_arn for c in watcher.changes) == Counter(running)
    assert all(c.previous is None for c in watcher.changes)
    assert watcher.watch.known_count == 250


async def test_start_stop_and_fail_during_a_watch(
    ecs: ECSClient, local: LocalECS, clock: Clock
) -> None:
    fleet = local.seed_tasks(20, cluster="prod")
    watcher = Watcher(ecs.watch_tasks(cluster="prod", interval=FAST))
    await watcher.sweeps(1)

    run = await ecs.run_task(cluster="prod", task_definition="web", count=2)
    started = [t.task_arn for t in run.tasks if t.task_arn]
    local.stop_task(fleet[0], reason="scaling in")
    local.set_task_status(fleet[1], "STOPPED", exit_code=137, reason="OutOfMemoryError")
    await watcher.until(lambda: all(watcher.of(a) == ["added"] for a in started))
    await watcher.until(lambda: watcher.of(fleet[0]) == ["added", "stopping"])
    await watcher.until(lambda: watcher.of(fleet[1]) == ["added", "stopped"])

    clock.advance(30)  # the new tasks are RUNNING, the stop completes
    await watcher.until(lambda: all(watcher.of(a) == ["added", "changed"] for a in started))
    await watcher.until(lambda: watcher.of(fleet[0]) == ["added", "stopping", "stopped"])
    await watcher.sweeps(2)
    await watcher.stop()
    _once_each(watcher.changes)

    by_kind = {(c.task.task_arn, c.kind): c for c in watcher.changes}
    for arn in started:
        added, changed = by_kind[(arn, "added")], by_kind[(arn, "changed")]
        assert added.task.last_status == "PENDING"
        assert changed.previous == added.task
        assert changed.task.last_status == "RUNNING"
        assert {"last_status", "started_at", "version"} <= set(changed.changed)

    stopping, stopped = by_kind[(fleet[0], "stopping")], by_kind[(fleet[0], "stopped")]
    assert stopping.task.desired_status == "STOPPED"
    assert stopping.task.last_status == "RUNNING"
    assert stopped.previous == stopping.task
    assert stopped.task.stop_code == "UserInitiated"
    assert stopped.task.stopped_reason == "scaling in"
    assert stopped.task.stopped_at is not None
    assert [c.exit_code for c in stopped.task.containers] == [143]

    failed = by_kind[(fleet[1], "stopped")]
    assert failed.previous is not None and failed.previous.last_status == "RUNNING"
    assert failed.task.stop_code == "EssentialContainerExited"
    assert failed.task.stopped_reason == "OutOfMemoryError"
    assert [c.exit_code for c in failed.task.containers] == [137]
    assert "last_status" in failed.changed

    # One live Task per running task; stopped ones left the state once reported.
    live = {t.task_arn for t in watcher.watch.tasks()}
    assert live == (set(fleet) - {fleet[0], fleet[1]}) | set(started)


async def test_quiet_sweeps_only_list(ecs: ECSClient, local: LocalECS) -> None:
    local.seed_tasks(250, cluster="prod")
    watcher = Watcher(ecs.watch_tasks(cluster="prod", interval=FAST, refresh=None))
    await watcher.sweeps(4)
    await watcher.stop()
    assert len(watcher.changes) == 250
    assert local.request_count["DescribeTasks"] == 3  # the first sweep's, and no more
    assert local.request_count["ListTasks"] >= 4 * 3
    assert watcher.watch.stats.last_sweep_requests == 3  # three ListTasks pages


async def test_settled_tasks_are_refreshed_in_turns(ecs: ECSClient, local: LocalECS) -> None:
    fleet = local.seed_tasks(250, cluster="prod")
    watcher = Watcher(ecs.watch_tasks(cluster="prod", interval=FAST, refresh=3))
    await watcher.sweeps(1)
    local.set_task_status(fleet[-1], "RUNNING")  # what ECS does on any change: a new version
    await watcher.until(lambda: watcher.of(fleet[-1]) == ["added", "changed"])
    await watcher.sweeps(6)
    await watcher.stop()
    (change,) = [c for c in watcher.changes if c.kind == "changed"]
    assert change.changed == ("version",)
    assert change.previous is not None and change.task.version == change.previous.version + 1
    # 250 tasks, a third per sweep at most: one DescribeTasks call per sweep once turns come.
    assert watcher.watch.stats.last_sweep_requests in (3, 4)


async def test_a_failing_sweep_loses_nothing(clock: Clock) -> None:
    faults = Faults(seed=11, throttle=0.15, server_error=0.1, reset_after=0.1, truncated=0.05)
    async with LocalECS(seed=2, clock=clock, pending_seconds=10, faults=faults) as local:
        fleet = local.seed_tasks(450, cluster="prod")
        # One attempt per call and no pacing (which would retry throttled reads until they
        # pass): the client gives up at once, so sweeps fail often midway.
        async with client_for(local, max_attempts=1, rate_limits=False) as ecs:
            watcher = Watcher(ecs.watch_tasks(cluster="prod", interval=FAST))
            expected_stopped: set[str] = set()
            live = set(fleet)
            await watcher.sweeps(1)
            for round_ in range(4):
                for arn in fleet[round_ * 20 : round_ * 20 + 10]:
                    local.set_task_status(arn, "STOPPED", exit_code=round_)
                    expected_stopped.add(arn)
                live -= expected_stopped
                started = local.seed_tasks(15, cluster="prod", last_status="PENDING")
                live |= set(started)
                await watcher.until(lambda s=started: all(watcher.of(a) == ["added"] for a in s))
                clock.advance(10)  # seen PENDING: now they start

            await watcher.until(lambda: {t.task_arn for t in watcher.watch.tasks()} == live)
            await watcher.until(
                lambda: all(t.last_status == "RUNNING" for t in watcher.watch.tasks())
            )
            await watcher.stop()
        assert watcher.watch.stats.failed_sweeps > 0
        assert sum(local.fault_counts.values()) > 0
    _once_each(watcher.changes)
    kinds = Counter(c.kind for c in watcher.changes)
    assert kinds["added"] == 450 + 4 * 15
    assert {c.task.task_arn for c in watcher.changes if c.kind == "stopped"} == expected_stopped
    assert kinds["stopped"] == 40
    assert kinds["changed"] == 4 * 15  # each started task: PENDING -> RUNNING, once


async def test_non_retryable_error_ends_the_stream(ecs: ECSClient) -> None:
    with pytest.raises(ClusterNotFoundException):
        async for _change in ecs.watch_tasks(cluster="nowhere", interval=FAST):
            pass


async def test_restart_from_a_snapshot(ecs: ECSClient, local: LocalECS) -> None:
    fleet = local.seed_tasks(120, cluster="prod", family="web")
    first = Watcher(ecs.watch_tasks(cluster="prod", family="web", interval=FAST))
    await first.sweeps(1)
    await first.stop()
    saved = json.loads(json.dumps(first.watch.snapshot()))

    # While no one watches: two tasks fail, three start, and one is forgotten by ECS.
    for arn in fleet[:2]:
        local.set_task_status(arn, "STOPPED", exit_code=1)
    new = local.seed_tasks(3, cluster="prod", family="web")
    forgotten = dict(saved["tasks"][-1])
    forgotten["task"] = {
        **forgotten["task"],
        "taskArn": fleet[-1].rsplit("/", 1)[0] + "/" + "0" * 32,
    }
    saved["tasks"].append(forgotten)

    with pytest.raises(ValueError, match="other clusters"):
        ecs.watch_tasks(cluster="prod", interval=FAST, snapshot=saved)
    second = Watcher(ecs.watch_tasks(cluster="prod", family="web", interval=FAST, snapshot=saved))
    await second.sweeps(2)
    await second.stop()
    got = sorted((c.kind, c.task.task_arn) for c in second.changes)
    assert got == sorted(
        [("stopped", a) for a in fleet[:2]]
        + [("added", a) for a in new]
        + [("vanished", forgotten["task"]["taskArn"])]
    )
    (vanished,) = [c for c in second.changes if c.kind == "vanished"]
    assert vanished.failure is not None and vanished.failure.reason == "MISSING"
    assert vanished.task.task_definition_arn is not None  # the last description known
    assert second.watch.known_count == 120 - 2 + 3


async def test_clusters_filters_and_tags(ecs: ECSClient, local: LocalECS) -> None:
    web = set(local.seed_tasks(30, cluster="a", family="web", tags={"team": "x"}))
    local.seed_tasks(20, cluster="a", family="batch", started_by="cron")
    web |= set(local.seed_tasks(10, cluster="b", family="web", tags={"team": "x"}))
    watcher = Watcher(ecs.watch_tasks(clusters="*", family="web", include=["TAGS"], interval=FAST))
    await watcher.sweeps(1)
    web |= set(local.seed_tasks(5, cluster="c", family="web", tags={"team": "x"}))
    await watcher.until(lambda: len(watcher.changes) == len(web))
    await watcher.sweeps(1)
    await watcher.stop()
    assert {c.task.task_arn for c in watcher.changes} == web
    assert all(c.task.tags == [m.Tag(key="team", value="x")] for c in watcher.changes)
    with pytest.raises(ValueError, match="not both"):
        ecs.watch_tasks(cluster="a", clusters=["b"])


async def test_leaving_early_leaves_nothing_running(ecs: ECSClient, local: LocalECS) -> None:
    local.seed_tasks(900, cluster="prod")
    local.latency_ms = 5
    async with ecs.watch_tasks(cluster="prod", interval=FAST) as watch:
        async for _change in watch:
            break
    assert _left_running() == set()

    seen = 0

    async def consume() -> None:
        nonlocal seen
        async for _change in ecs.watch_tasks(cluster="prod", interval=FAST):
            seen += 1

    consumer = asyncio.ensure_future(consume())
    while seen == 0:
        await asyncio.sleep(FAST)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert _left_running() == set()
    assert seen < 900  # it stopped in the middle of the first sweep


def _left_running() -> set[asyncio.Task[Any]]:
    return {
        t
        for t in asyncio.all_tasks()
        if t is not asyncio.current_task() and "RequestHandler" not in t.get_coro().__qualname__  # type: ignore[union-attr]
    }


# -- against moto's server: an ECS implementation nobody here wrote -----------------------------


@pytest.fixture(scope="module")
def moto() -> Iterator[dict[str, Any]]:
    with moto_account() as account:
        yield account


def _moto_transition(url: str, times: int) -> None:
    """How many DescribeTasks calls moto lets pass before a task moves on a status."""
    body = {"model_name": "ecs::task", "transition": {"progression": "manual", "times": times}}
    request = urllib.request.Request(
        f"{url}/moto-api/state-manager/set-transition", data=json.dumps(body).encode()
    )
    urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture
async def moto_ecs(moto: dict[str, Any]) -> AsyncIterator[ECSClient]:
    async with ECSClient(
        region=MOTO_REGION, endpoint_url=moto["url"], credentials=moto["credentials"]
    ) as client:
        yield client


async def _moto_cluster(ecs: ECSClient, moto: dict[str, Any], name: str) -> None:
    await moto_cluster_with_instance(ecs, moto, name)
    await ecs.register_task_definition(
        family="watched",
        container_definitions=[{"name": "app", "image": "nginx", "memory": 16, "cpu": 8}],
    )


async def _run(ecs: ECSClient, cluster: str, count: int) -> list[str]:
    run = await ecs.run_task(cluster=cluster, task_definition="watched", count=count)
    return [t.task_arn for t in run.tasks if t.task_arn]


async def test_moto_start_stop_and_restart(moto_ecs: ECSClient, moto: dict[str, Any]) -> None:
    _moto_transition(moto["url"], 1_000_000)  # frozen: statuses move only when we act
    await _moto_cluster(moto_ecs, moto, "watch-frozen")
    first = await _run(moto_ecs, "watch-frozen", 3)
    watcher = Watcher(moto_ecs.watch_tasks(cluster="watch-frozen", interval=FAST, refresh=2))
    await watcher.until(lambda: len(watcher.changes) == 3)

    later = await _run(moto_ecs, "watch-frozen", 2)
    await moto_ecs.stop_task(cluster="watch-frozen", task=first[0], reason="deploy")
    await watcher.until(lambda: all(watcher.of(a) == ["added"] for a in later))
    await watcher.until(lambda: watcher.of(first[0]) == ["added", "stopped"])
    # moto lists stopped tasks too unless asked for RUNNING: the watch asks, so none returns.
    await watcher.sweeps(3)
    await watcher.stop()
    _once_each(watcher.changes)
    assert len(watcher.changes) == 6
    (stopped,) = [c for c in watcher.changes if c.kind == "stopped"]
    assert stopped.task.stopped_reason == "deploy"
    assert stopped.previous is not None and stopped.previous.last_status == "RUNNING"

    saved = json.loads(json.dumps(watcher.watch.snapshot()))
    await moto_ecs.stop_task(cluster="watch-frozen", task=later[0], reason="scale in")
    forgotten = dict(saved["tasks"][0])
    forgotten["task"] = {**forgotten["task"], "taskArn": first[0].rsplit("/", 1)[0] + "/gone"}
    saved["tasks"].append(forgotten)
    resumed = Watcher(
        moto_ecs.watch_tasks(cluster="watch-frozen", interval=FAST, refresh=2, snapshot=saved)
    )
    await resumed.sweeps(2)
    await resumed.stop()
    assert sorted((c.kind, c.task.task_arn) for c in resumed.changes) == sorted(
        [("stopped", later[0]), ("vanished", forgotten["task"]["taskArn"])]
    )
    (vanished,) = [c for c in resumed.changes if c.kind == "vanished"]
    # moto answers neither a task nor a failure for an ARN it does not know.
    assert vanished.failure is not None and vanished.failure.reason == "NOT_RETURNED"


async def test_moto_unsettled_tasks_until_stopped(
    moto_ecs: ECSClient, moto: dict[str, Any]
) -> None:
    # moto's default: each DescribeTasks moves a task one status on (RUNNING, DEACTIVATING,
    # STOPPING, DEPROVISIONING, STOPPED); the watch describes it every sweep until it settles.
    _moto_transition(moto["url"], 1)
    await _moto_cluster(moto_ecs, moto, "watch-moving")
    (arn,) = await _run(moto_ecs, "watch-moving", 1)
    watcher = Watcher(moto_ecs.watch_tasks(cluster="watch-moving", interval=FAST))
    await watcher.until(lambda: "stopped" in watcher.of(arn))
    await watcher.sweeps(2)
    await watcher.stop()
    _moto_transition(moto["url"], 1_000_000)
    statuses = [c.task.last_status for c in watcher.changes]
    assert watcher.of(arn)[0] == "added" and watcher.of(arn)[-1] == "stopped"
    assert set(watcher.of(arn)[1:-1]) <= {"changed"}
    assert statuses[-1] == "STOPPED"
    assert len(statuses) == len(set(statuses))  # each status reported once
    assert watcher.watch.known_count == 0


async def test_demo_shows_start_stop_and_failure() -> None:
    import io

    from rich.console import Console

    from aioecs._cli.watch import watch_demo

    out = io.StringIO()
    changes = await watch_demo(Console(file=out, width=200), interval=0.05)
    assert Counter(c.kind for c in changes) == {
        "added": 8,
        "stopping": 1,
        "stopped": 2,
        "changed": 2,
    }
    assert "exit web=137" in out.getvalue() and "UserInitiated" in out.getvalue()


# -- clusters that go away, answers that do not fit -----------------------------------------------


async def test_resume_after_a_cluster_was_deleted(ecs: ECSClient, local: LocalECS) -> None:
    ci = local.seed_tasks(2, cluster="ci", launch_type="FARGATE")
    prod = local.seed_tasks(3, cluster="prod", launch_type="FARGATE")
    first = Watcher(ecs.watch_tasks(clusters="*", interval=FAST))
    await first.sweeps(1)
    await first.stop()
    saved = first.watch.snapshot()
    assert first.watch.known_count == 5

    # While no one watches, the CI cluster's tasks end and the cluster is deleted.
    for arn in ci:
        local.set_task_status(arn, "STOPPED", exit_code=0)
    await ecs.delete_cluster(cluster="ci")

    second = Watcher(ecs.watch_tasks(clusters="*", interval=FAST, snapshot=saved))
    await second.sweeps(2)
    late = local.seed_tasks(1, cluster="prod", launch_type="FARGATE")
    await second.until(lambda: second.of(late[0]) == ["added"])  # the stream goes on
    await second.stop()
    assert sorted((c.kind, c.task.task_arn) for c in second.changes) == sorted(
        [("vanished", arn) for arn in ci] + [("added", late[0])]
    )
    for change in second.changes[:2]:
        assert change.failure is not None and change.failure.reason == "MISSING"
        assert "cluster" in (change.failure.detail or "")
    assert {t.task_arn for t in second.watch.tasks()} == {*prod, *late}


def _scripted_watch(send: Any, **kwargs: Any) -> TaskWatch:
    """A watch of cluster `prod` on a scripted ECS: `send(operation, params)` answers."""
    from aioecs._watch import watch

    async def call(operation: str, params: dict[str, Any], counts: Any) -> Any:
        return send(operation, params)

    options: dict[str, Any] = {
        "cluster": "prod", "clusters": None, "filters": {}, "include": None, "interval": FAST,
        "refresh": None, "concurrency": 2, "snapshot": None,
    }  # fmt: skip
    return watch(call, **{**options, **kwargs})


ARN = "arn:aws:ecs:us-east-1:123456789012:task/prod/{:032x}"


async def test_a_task_that_does_not_fit_the_model_ends_the_watch_with_its_arn() -> None:
    arns = [ARN.format(i) for i in range(3)]

    def send(operation: str, params: dict[str, Any]) -> Any:
        if operation == "ListTasks":
            return {"taskArns": arns}
        return {
            "tasks": [
                {"taskArn": a, "lastStatus": "RUNNING", "desiredStatus": "RUNNING"}
                if a != arns[1]
                else {"taskArn": a, "containers": "not a list"}
                for a in params["tasks"]
            ]
        }

    from aioecs.errors import ResponseError

    watch = _scripted_watch(send)
    seen: list[str] = []

    async def consume() -> None:
        async for change in watch:
            seen.append(change.kind)

    # Before: the error was taken for a transient one and every sweep was abandoned at that
    # task, silently, forever.
    with pytest.raises(ResponseError, match=arns[1]):
        await asyncio.wait_for(consume(), HANG_GUARD)
    assert (seen, watch.stats.failed_sweeps) == (["added"], 0)


async def test_an_answer_with_null_members_is_no_task_and_no_crash() -> None:
    arns = [ARN.format(i) for i in range(2)]

    def send(operation: str, params: dict[str, Any]) -> Any:
        if operation == "ListTasks":
            return {"taskArns": arns}
        return {"tasks": None, "failures": None}

    watcher = Watcher(_scripted_watch(send))
    await watcher.sweeps(3)
    await watcher.stop()
    assert (watcher.changes, watcher.watch.stats.failed_sweeps) == ([], 0)


async def test_a_new_task_already_stopping_is_reported_stopping() -> None:
    arn = ARN.format(7)
    state = {"desiredStatus": "STOPPED", "lastStatus": "RUNNING"}
    listed = [True]

    def send(operation: str, params: dict[str, Any]) -> Any:
        if operation == "ListTasks":
            # Listed as RUNNING once (the listing lags), then no more.
            taken, listed[0] = listed[0], False
            return {"taskArns": [arn] if taken else []}
        return {"tasks": [{"taskArn": arn, **state}]}

    watcher = Watcher(_scripted_watch(send))
    await watcher.until(lambda: len(watcher.changes) == 2)
    state["lastStatus"] = "STOPPED"
    await watcher.until(lambda: len(watcher.changes) == 3)
    await watcher.stop()
    assert watcher.of(arn) == ["added", "stopping", "stopped"]


# -- state files -----------------------------------------------------------------------------------


async def test_a_state_file_resumes_with_what_changed_meanwhile(
    ecs: ECSClient, local: LocalECS, tmp_path: Path
) -> None:
    path = tmp_path / "watch.state"
    fleet = local.seed_tasks(120, cluster="prod", family="web")
    ended: list[int] = []
    first = Watcher(
        ecs.watch_tasks(
            cluster="prod",
            family="web",
            interval=FAST,
            state_file=path,
            on_sweep=lambda watch: ended.append(watch.stats.sweeps),
        )
    )
    await first.sweeps(2)
    await first.stop()
    assert len(first.changes) == 120 and path.exists()
    assert ended[:2] == [1, 2]  # called at the end of each sweep, the sweep counted

    # While no one watches: two tasks fail, three start, one is being stopped, and one
    # stopped so long ago that ECS forgot it.
    for arn in fleet[:2]:
        local.set_task_status(arn, "STOPPED", exit_code=1)
    new = local.seed_tasks(3, cluster="prod", family="web")
    local.stop_task(fleet[-1])
    local.set_task_status(fleet[-2], "STOPPED", exit_code=0)
    del local.state.tasks[fleet[-2]]
    second = Watcher(ecs.watch_tasks(cluster="prod", family="web", interval=FAST, state_file=path))
    assert second.watch.known_count == 120  # resumed before the first sweep
    await second.sweeps(2)
    await second.stop()
    got = sorted((c.kind, c.task.task_arn) for c in second.changes)
    assert got == sorted(
        [("stopped", a) for a in fleet[:2]]
        + [("added", a) for a in new]
        + [("stopping", fleet[-1]), ("vanished", fleet[-2])]
    )
    (stopping,) = [c for c in second.changes if c.kind == "stopping"]
    assert stopping.previous is not None and stopping.previous.desired_status == "RUNNING"

    third = Watcher(ecs.watch_tasks(cluster="prod", family="web", interval=FAST, state_file=path))
    await third.sweeps(2)
    await third.stop()
    assert third.changes == []  # nothing it already reported comes back
    assert third.watch.known_count == 120 - 3 + 3


async def test_a_state_file_costs_each_change_not_the_fleet(
    ecs: ECSClient, local: LocalECS, tmp_path: Path
) -> None:
    path = tmp_path / "watch.state"
    fleet = local.seed_tasks(2000, cluster="prod")
    watcher = Watcher(ecs.watch_tasks(cluster="prod", interval=FAST, state_file=path))
    await watcher.sweeps(1)
    stats = watcher.watch.stats
    size = path.stat().st_size
    # The first sweep: each task written once, in one write per 100 changes (plus the
    # header), never the whole state per change.
    assert stats.state_bytes == size
    assert stats.state_writes <= 2000 // 100 + 2
    full = len(json.dumps(watcher.watch.snapshot()))
    assert size < 400 * 2000 and size * 4 < full  # compact: not the tasks' descriptions

    before_bytes, before_writes = stats.state_bytes, stats.state_writes
    for arn in fleet[:10]:
        local.set_task_status(arn, "STOPPED", exit_code=0)
    started = local.seed_tasks(10, cluster="prod")
    await watcher.until(lambda: all(watcher.of(a) == ["added"] for a in started))
    await watcher.until(lambda: all(watcher.of(a)[-1:] == ["stopped"] for a in fleet[:10]))
    await watcher.sweeps(2)
    await watcher.stop()
    # 20 changes cost about 20 lines, whatever the fleet's size.
    assert stats.state_bytes - before_bytes < 20 * 400
    assert stats.state_writes - before_writes <= 4


async def test_a_state_file_for_another_selection_is_refused(
    ecs: ECSClient, local: LocalECS, tmp_path: Path
) -> None:
    from aioecs.errors import ConfigError

    path = tmp_path / "watch.state"
    local.seed_tasks(3, cluster="prod")
    watcher = Watcher(ecs.watch_tasks(cluster="prod", interval=FAST, state_file=path))
    await watcher.sweeps(1)
    await watcher.stop()
    for other in ({"cluster": "other"}, {"cluster": "prod", "family": "web"}):
        with pytest.raises(ConfigError, match="made for other clusters, filters or include"):
            ecs.watch_tasks(**other, state_file=path)  # type: ignore[arg-type]
    stranger = tmp_path / "notes.txt"
    stranger.write_text("hello\n")
    with pytest.raises(ConfigError, match="not a watch_tasks state file"):
        ecs.watch_tasks(cluster="prod", state_file=stranger)
    with pytest.raises(ValueError, match="snapshot or state_file"):
        ecs.watch_tasks(cluster="prod", state_file=path, snapshot=watcher.watch.snapshot())


async def test_a_line_cut_short_by_a_crash_is_reported_again(
    ecs: ECSClient, local: LocalECS, tmp_path: Path
) -> None:
    path = tmp_path / "watch.state"
    local.seed_tasks(50, cluster="prod")
    first = Watcher(ecs.watch_tasks(cluster="prod", interval=FAST, state_file=path))
    await first.sweeps(1)
    await first.stop()
    last = json.loads(path.read_text().splitlines()[-1])["t"]["taskArn"]
    with path.open("r+") as file:  # the crash: the last line half written
        file.truncate(path.stat().st_size - 30)

    second = Watcher(ecs.watch_tasks(cluster="prod", interval=FAST, state_file=path))
    await second.sweeps(2)
    await second.stop()
    assert [(c.kind, c.task.task_arn) for c in second.changes] == [("added", last)]
    assert all(json.loads(line) for line in path.read_text().splitlines())  # whole lines


def test_the_journal_is_compacted_at_the_end_of_a_sweep(tmp_path: Path) -> None:
    from aioecs._watch_state import StateFile

    path = tmp_path / "watch.state"
    state = StateFile(path, {"clusters": ["prod"]})
    state.rewrite(0, [], set())
    task = m.Task(task_arn=ARN.format(1), last_status="RUNNING", version=1)
    for version in range(3000):  # one task changing over and over: dead lines pile up
        state.record(ARN.format(1), (m.Task(task_arn=ARN.format(1), version=version), "prod", 1))
    state.end_sweep(2, [(task, "prod", 2)], 1, set())
    state.close()
    assert len(path.read_text().splitlines()) == 2  # the header and the one live task
    loaded = state.load()
    assert loaded is not None and list(loaded.tasks) == [ARN.format(1)]
    assert loaded.tasks[ARN.format(1)][0].version == 1
    assert [p.name for p in tmp_path.iterdir()] == ["watch.state"]  # no temporary file left


async def test_moto_state_file_resume_and_refusal(
    moto_ecs: ECSClient, moto: dict[str, Any], tmp_path: Path
) -> None:
    from aioecs.errors import ConfigError

    _moto_transition(moto["url"], 1_000_000)  # frozen: statuses move only when we act
    await _moto_cluster(moto_ecs, moto, "watch-state")
    path = tmp_path / "watch.state"
    first = await _run(moto_ecs, "watch-state", 3)
    watcher = Watcher(moto_ecs.watch_tasks(cluster="watch-state", interval=FAST, state_file=path))
    await watcher.until(lambda: len(watcher.changes) == 3)
    await watcher.sweeps(1)
    await watcher.stop()

    # While no one watches: one task is stopped, two start.
    await moto_ecs.stop_task(cluster="watch-state", task=first[0], reason="deploy")
    later = await _run(moto_ecs, "watch-state", 2)
    with pytest.raises(ConfigError, match="other clusters"):
        moto_ecs.watch_tasks(cluster="elsewhere", state_file=path)
    resumed = Watcher(
        moto_ecs.watch_tasks(cluster="watch-state", interval=FAST, refresh=1, state_file=path)
    )
    await resumed.sweeps(3)
    await resumed.stop()
    # Refreshed every sweep, the resumed tasks are described again: nothing new to say.
    assert sorted((c.kind, c.task.task_arn) for c in resumed.changes) == sorted(
        [("stopped", first[0])] + [("added", a) for a in later]
    )
    (stopped,) = [c for c in resumed.changes if c.kind == "stopped"]
    assert stopped.task.stopped_reason == "deploy"
    assert stopped.previous is not None and stopped.previous.last_status == "RUNNING"
