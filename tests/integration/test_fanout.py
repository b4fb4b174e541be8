"""`iter_tasks`, paginators and waiters against LocalECS over real HTTP."""

from __future__ import annotations

import asyncio
import gc
import json
import time
import tracemalloc
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from aioecs import AiohttpTransport, ECSClient, HttpRequest, HttpResponse
from aioecs import models as m
from aioecs._fanout import TaskStream
from aioecs.errors import ClusterNotFoundException, ECSError, WaiterError
from aioecs.testing import LocalECS

from ..servers import client_for


@pytest.fixture
async def local() -> AsyncIterator[LocalECS]:
    async with LocalECS(seed=3) as server:
        yield server


@pytest.fixture
async def ecs(local: LocalECS) -> AsyncIterator[ECSClient]:
    async with client_for(local) as c:
        yield c


class Rewriting:
    """A transport whose answers `hook(operation, data)` may rewrite; the HTTP exchange
    with the server stays real."""

    def __init__(self, hook: Callable[[str, Any], Any]) -> None:
        self.real = AiohttpTransport()
        self.hook = hook

    async def send(self, request: HttpRequest) -> HttpResponse:
        response = await self.real.send(request)
        if response.status != 200:
            return response
        data = self.hook(request.operation, json.loads(response.body))
        return HttpResponse(200, response.headers, json.dumps(data).encode())

    async def close(self) -> None:
        await self.real.close()


def _no_pipeline_left() -> set[asyncio.Task[Any]]:
    """Tasks of the client still alive (the emulator's own connection handlers excluded)."""
    return {
        t
        for t in asyncio.all_tasks()
        if t is not asyncio.current_task() and "RequestHandler" not in t.get_coro().__qualname__  # type: ignore[union-attr]
    }


async def _settle() -> None:
    for _ in range(5):
        gc.collect()
        await asyncio.sleep(0.01)


async def test_every_task_exactly_once_across_pages(ecs: ECSClient, local: LocalECS) -> None:
    seeded = local.seed_tasks(2600, cluster="prod", family="web")
    stream = ecs.iter_tasks(cluster="prod", concurrency=4)
    arns = [task.task_arn async for task in stream]
    assert len(arns) == len(set(arns)) == 2600
    assert set(arns) == set(seeded)
    assert (stream.listed, stream.yielded, stream.failures) == (2600, 2600, [])
    assert local.request_count["ListTasks"] == 26
    assert local.request_count["DescribeTasks"] == 26


async def test_filters_and_include(ecs: ECSClient, local: LocalECS) -> None:
    web = set(local.seed_tasks(150, cluster="prod", family="web", tags={"team": "a"}))
    batch = set(local.seed_tasks(120, cluster="prod", family="batch", started_by="cron"))
    stopped = set(local.seed_tasks(130, cluster="prod", family="web", desired_status="STOPPED"))
    fargate = set(local.seed_tasks(40, cluster="prod", family="f", launch_type="FARGATE"))

    async def arns(**kw: Any) -> set[str]:
        return {t.task_arn async for t in ecs.iter_tasks(cluster="prod", **kw) if t.task_arn}

    assert await arns() == web | batch | fargate
    assert await arns(family="batch") == batch
    assert await arns(started_by="cron") == batch
    assert await arns(desired_status="STOPPED") == stopped
    assert await arns(launch_type="FARGATE") == fargate
    tagged = [t async for t in ecs.iter_tasks(cluster="prod", family="web", include=["TAGS"])]
    assert {t.task_arn for t in tagged} == web
    assert all(t.tags == [m.Tag(key="team", value="a")] for t in tagged)
    untagged = [t async for t in ecs.iter_tasks(cluster="prod", family="web")]
    assert all(t.tags == [] for t in untagged)


async def test_all_clusters(ecs: ECSClient, local: LocalECS) -> None:
    seeded = set()
    for i in range(5):
        seeded |= set(local.seed_tasks(130 + i, cluster=f"c{i}"))
    got = [t.task_arn async for t in ecs.iter_tasks(clusters="*")]
    assert len(got) == len(set(got)) and set(got) == seeded
    listed = [t.task_arn async for t in ecs.iter_tasks(clusters=["c1", "c3"])]
    assert len(listed) == 131 + 133


async def test_vanished_tasks_are_reported_not_dropped(local: LocalECS) -> None:
    seeded = local.seed_tasks(250, cluster="prod")
    gone: list[str] = []

    def vanish(operation: str, data: Any) -> Any:
        if operation == "ListTasks" and not gone:
            gone.extend(data["taskArns"][:3])
            for arn in gone:  # stopped and expired between ListTasks and DescribeTasks
                del local.state.tasks[arn]
        return data

    async with client_for(local, transport=Rewriting(vanish)) as ecs:
        stream = ecs.iter_tasks(cluster="prod")
        got = {t.task_arn async for t in stream}
    assert got == set(seeded) - set(gone)
    assert sorted(f.arn or "" for f in stream.failures) == sorted(gone)
    assert {f.reason for f in stream.failures} == {"MISSING"}
    assert stream.listed == 250 and stream.yielded == 247


async def test_answer_without_task_or_failure_is_reported(local: LocalECS) -> None:
    seeded = local.seed_tasks(10, cluster="prod")
    omitted: list[str] = []
    repeated: list[str] = []

    def repeat_one_omit_another(operation: str, data: Any) -> Any:
        if operation == "DescribeTasks":
            tasks = data["tasks"]
            omitted.append(tasks[0]["taskArn"])
            repeated.append(tasks[1]["taskArn"])
            tasks[0] = tasks[1]  # the second task twice, the first not at all
            assert [t["taskArn"] for t in tasks].count(repeated[-1]) == 2
        return data

    async with client_for(local, transport=Rewriting(repeat_one_omit_another)) as ecs:
        stream = ecs.iter_tasks(cluster="prod")
        got = [t.task_arn async for t in stream]
    assert len(omitted) == len(repeated) == 1  # one DescribeTasks call, changed once
    assert len(got) == len(set(got)) == 9  # the repeated one once
    assert set(got) == set(seeded) - set(omitted)
    assert [(f.arn, f.reason) for f in stream.failures] == [(omitted[0], "NOT_RETURNED")]


async def test_repeated_token_ends_the_chain(local: LocalECS) -> None:
    local.seed_tasks(500, cluster="prod")
    first_token: list[str] = []

    def stuck(operation: str, data: Any) -> Any:
        if operation == "ListTasks" and data.get("nextToken"):
            first_token[:1] = first_token[:1] or [data["nextToken"]]
            data["nextToken"] = first_token[0]  # a buggy service repeating itself
        return data

    async with client_for(local, transport=Rewriting(stuck)) as ecs:
        got = [t.task_arn async for t in ecs.iter_tasks(cluster="prod")]
        assert len(got) == len(set(got)) == 200  # page 1, then page 2 once; then it stops
        assert local.request_count["ListTasks"] == 2
        pages = [p async for p in ecs.paginate_list_tasks(cluster="prod")]
        assert len(pages) == 2


async def test_break_leaves_nothing_running(ecs: ECSClient, local: LocalECS) -> None:
    local.seed_tasks(1500, cluster="prod")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async for _task in ecs.iter_tasks(cluster="prod"):
            break
        await _settle()
        assert _no_pipeline_left() == set()
        async with ecs.iter_tasks(cluster="prod") as stream:
            async for _task in stream:
                break
        assert _no_pipeline_left() == set()
    assert local.request_count["ListTasks"] < 15  # the chain did not run on to the end


async def test_cancelling_the_consumer_cancels_requests(ecs: ECSClient, local: LocalECS) -> None:
    local.seed_tasks(1500, cluster="prod")
    local.latency_ms = 30
    seen = 0

    async def consume() -> None:
        nonlocal seen
        async for _task in ecs.iter_tasks(cluster="prod"):
            seen += 1

    consumer = asyncio.ensure_future(consume())
    while seen == 0:
        await asyncio.sleep(0.005)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    await _settle()
    assert _no_pipeline_left() == set()
    assert 0 < seen < 1500


async def test_slow_consumer_bounds_what_is_in_flight(ecs: ECSClient, local: LocalECS) -> None:
    local.seed_tasks(3000, cluster="prod")
    stream = ecs.iter_tasks(cluster="prod", concurrency=2)
    async with stream:
        async for _task in stream:
            await asyncio.sleep(0.3)  # the consumer stalls on its first task
            break
    # One batch being consumed, two queued, two in flight (and one waiting for a slot).
    assert local.request_count["DescribeTasks"] <= 6
    assert local.request_count["ListTasks"] <= 8


async def test_errors_reach_the_consumer(ecs: ECSClient) -> None:
    with pytest.raises(ClusterNotFoundException):
        async for _task in ecs.iter_tasks(cluster="nope"):
            pass
    await _settle()
    assert _no_pipeline_left() == set()


async def test_bad_filter_fails_before_anything_is_sent(ecs: ECSClient, local: LocalECS) -> None:
    from aioecs import ValidationError

    with pytest.raises(ValidationError):
        ecs.iter_tasks(cluster="prod", family=42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="concurrency"):
        ecs.iter_tasks(cluster="prod", concurrency=0)
    assert sum(local.request_count.values()) == 0


# --- paginators --------------------------------------------------------------------------


async def test_paginator_pages_and_items(ecs: ECSClient, local: LocalECS) -> None:
    seeded = local.seed_tasks(230, cluster="prod")
    pages = [page async for page in ecs.paginate_list_tasks(cluster="prod", max_results=100)]
    assert [len(p.task_arns) for p in pages] == [100, 100, 30]
    assert pages[-1].next_token is None
    items = [arn async for arn in ecs.paginate_list_tasks(cluster="prod").items()]
    assert items == seeded
    clusters = [arn async for arn in ecs.paginate_list_clusters().items()]
    assert clusters == [local.state.clusters["prod"].arn]


# --- waiters -----------------------------------------------------------------------------


async def test_waiter_succeeds_when_tasks_run(ecs: ECSClient, local: LocalECS) -> None:
    local.state.pending_seconds = 3600  # they start only when the test says so
    arns = local.seed_tasks(3, cluster="prod", last_status="PENDING")

    async def start_them() -> None:
        await asyncio.sleep(0.05)
        for arn in arns:
            local.set_task_status(arn, "RUNNING")

    starter = asyncio.ensure_future(start_them())
    out = await ecs.wait_tasks_running(cluster="prod", tasks=arns, delay=0.02, timeout=5)
    await starter
    assert {t.last_status for t in out.tasks} == {"RUNNING"}
    assert local.request_count["DescribeTasks"] >= 2


async def test_waiter_failure_acceptor(ecs: ECSClient, local: LocalECS) -> None:
    arns = local.seed_tasks(2, cluster="prod")
    local.set_task_status(arns[1], "STOPPED")
    with pytest.raises(WaiterError) as caught:
        await ecs.wait_tasks_running(cluster="prod", tasks=arns, delay=0.01)
    assert caught.value.waiter == "TasksRunning"
    assert isinstance(caught.value.last_response, m.DescribeTasksResponse)
    assert local.request_count["DescribeTasks"] == 1  # the first matching acceptor wins


async def test_waiter_missing_task_is_a_failure(ecs: ECSClient, local: LocalECS) -> None:
    (arn,) = local.seed_tasks(1, cluster="prod")
    ghost = arn[:-4] + "0000"
    with pytest.raises(WaiterError, match="failure state"):
        await ecs.wait_tasks_running(cluster="prod", tasks=[ghost], delay=0.01)


async def test_waiter_times_out_and_respects_max_attempts(ecs: ECSClient, local: LocalECS) -> None:
    local.state.pending_seconds = 3600
    arns = local.seed_tasks(1, cluster="prod", last_status="PENDING")
    with pytest.raises(WaiterError, match="timed out"):
        await ecs.wait_tasks_running(cluster="prod", tasks=arns, delay=0.02, timeout=0.1)
    before = local.request_count["DescribeTasks"]
    with pytest.raises(WaiterError, match="3 attempts"):
        await ecs.wait_tasks_running(cluster="prod", tasks=arns, delay=0.001, max_attempts=3)
    assert local.request_count["DescribeTasks"] - before == 3


async def test_waiter_stopped_and_unexpected_error(ecs: ECSClient, local: LocalECS) -> None:
    arns = local.seed_tasks(2, cluster="prod")
    for arn in arns:
        local.stop_task(arn)
    out = await ecs.wait_tasks_stopped(cluster="prod", tasks=arns, delay=0.01, timeout=5)
    assert {t.last_status for t in out.tasks} == {"STOPPED"}
    with pytest.raises(WaiterError, match="unexpected error"):
        await ecs.wait_tasks_stopped(cluster="nope", tasks=arns, delay=0.01)


# -- the pipeline with a scripted ECS (TaskStream's `send` is its seam) -------------------------


def _task(arn: str) -> dict[str, Any]:
    return {"taskArn": arn, "lastStatus": "RUNNING"}


async def test_a_long_page_is_described_in_batches_of_100() -> None:
    arns = [f"arn:aws:ecs:us-east-1:123456789012:task/prod/{i:032x}" for i in range(250)]
    calls: list[tuple[str, dict[str, Any]]] = []

    async def send(operation: str, params: dict[str, Any], *_: Any) -> Any:
        calls.append((operation, params))
        if operation == "ListTasks":  # more than ECS puts on a page, to see the batching
            return {"taskArns": arns}
        return {"tasks": [_task(arn) for arn in params["tasks"]]}

    stream = TaskStream(send, ["prod"], None, {"desiredStatus": "RUNNING"}, ["TAGS"], 2)
    got = [task.task_arn async for task in stream]
    assert sorted(got) == sorted(arns) and stream.yielded == stream.listed == 250
    assert calls[0] == ("ListTasks", {"desiredStatus": "RUNNING", "cluster": "prod"})
    describes = [params for operation, params in calls if operation == "DescribeTasks"]
    assert [len(p["tasks"]) for p in describes] == [100, 100, 50]
    assert [t for p in describes for t in p["tasks"]] == arns
    assert all(p["cluster"] == "prod" and p["include"] == ["TAGS"] for p in describes)


async def test_an_answer_of_failures_only_reports_them() -> None:
    arn = "arn:aws:ecs:us-east-1:123456789012:task/prod/gone"

    async def send(operation: str, params: dict[str, Any], *_: Any) -> Any:
        if operation == "ListTasks":
            return {"taskArns": [arn]}
        return {"failures": [{"arn": arn, "reason": "MISSING"}]}  # no `tasks` member at all

    stream = TaskStream(send, ["prod"], None, {}, None, 1)
    assert [task async for task in stream] == []
    assert [(f.arn, f.reason) for f in stream.failures] == [(arn, "MISSING")]


async def test_a_stream_keeps_a_digest_not_an_arn_for_each_task_listed() -> None:
    """To yield each task once, a stream remembers every ARN it listed until it ends (issue 20:
    at most 64 bytes a task). As strings in a set that was ~170 bytes an ARN; as digests, ~20.
    Measured with tracemalloc between task 1,000 and 6,000: sizes, not time."""

    async def send(operation: str, params: dict[str, Any], *_: Any) -> Any:
        if operation == "ListTasks":
            page = int(params.get("nextToken", "0"))
            return {"taskArns": _arns(f"p{page}", 100), "nextToken": str(page + 1)}
        return {"tasks": [_task(arn) for arn in params["tasks"]]}

    held: dict[int, int] = {}
    stream = TaskStream(send, ["prod"], None, {}, None, 1)
    tracemalloc.start()
    try:
        async for _ in stream:
            if stream.yielded in (1000, 6000):
                gc.collect()
                held[stream.yielded] = tracemalloc.get_traced_memory()[0]
                if stream.yielded == 6000:
                    break
    finally:
        tracemalloc.stop()
        await stream.aclose()
    assert (held[6000] - held[1000]) / 5000 < 64  # this code: ~19; a set of ARNs: ~200


async def test_an_arn_listed_again_on_a_later_page_comes_once(local: LocalECS) -> None:
    seeded = local.seed_tasks(450, cluster="prod")
    listed: list[str] = []

    def shifting(operation: str, data: Any) -> Any:
        if operation == "ListTasks":
            # Tasks started and stopped while the pages are read: every page after the first
            # repeats ARNs of the pages before it, some of them twice.
            data["taskArns"] = listed[-30:] + data["taskArns"] + listed[:5]
            listed.extend(data["taskArns"])
        return data

    async with client_for(local, transport=Rewriting(shifting)) as ecs:
        stream = ecs.iter_tasks(cluster="prod", concurrency=3)
        got = [t.task_arn async for t in stream]
    assert len(got) == len(set(got)) == 450 and set(got) == set(seeded)
    assert (stream.listed, stream.yielded, stream.failures) == (450, 450, [])
    assert local.request_count["DescribeTasks"] == 5


def test_a_waiter_whose_error_acceptor_means_success_is_refused() -> None:
    from aioecs._generated.operations import DESCRIBE_TASKS
    from aioecs._spec import WaiterSpec

    acceptors = ({"matcher": "error", "expected": "X", "state": "success", "argument": ""},)
    with pytest.raises(ValueError, match="error acceptor cannot mean success"):
        WaiterSpec("Odd", DESCRIBE_TASKS, delay=1, max_attempts=2, acceptors=acceptors)


_ARN = "arn:aws:ecs:us-east-1:123456789012:task/{}/{:032x}"


def _arns(cluster: str, n: int) -> list[str]:
    return [_ARN.format(cluster, i) for i in range(n)]


def _server_error() -> ECSError:
    return ECSError("We encountered an internal error.", code="ServerException", status=500)


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The pauses the stream asks the event loop for, recorded instead of slept."""
    asked: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(delay: float, result: Any = None) -> Any:
        if delay:
            asked.append(delay)
        return await real_sleep(0, result)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    return asked


async def test_cancelled_describes_are_awaited_before_the_stream_closes() -> None:
    arns = _arns("prod", 250)
    blocked: list[str] = []
    finished: list[str] = []

    async def send(operation: str, params: dict[str, Any], *_: Any) -> Any:
        if operation == "ListTasks":
            return {"taskArns": arns}
        if params["tasks"][0] == arns[0]:
            return {"tasks": [_task(arn) for arn in params["tasks"]]}
        blocked.append(params["tasks"][0])
        try:
            await asyncio.Event().wait()  # an answer that never comes
        finally:
            # Cleaning up takes a while, longer for the second call: closing waits for both.
            await asyncio.sleep(0.1 if params["tasks"][0] == arns[100] else 0.3)
            finished.append(params["tasks"][0])
        raise AssertionError("unreachable")

    stream = TaskStream(send, ["prod"], None, {}, None, 4)
    async with stream:
        async for _ in stream:
            while len(blocked) < 2:  # both other batches are in flight
                await asyncio.sleep(0)
            break
        assert finished == []
    assert sorted(finished) == sorted(blocked) == [arns[100], arns[200]]
    assert _no_pipeline_left() == set()


async def test_the_consumer_lets_the_loop_turn_every_few_tasks() -> None:
    arns = _arns("prod", 20)

    async def send(operation: str, params: dict[str, Any], *_: Any) -> Any:
        if operation == "ListTasks":
            return {"taskArns": arns}
        return {"tasks": [_task(arn) for arn in params["tasks"]]}

    turns = 0

    async def count_turns() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    counter = asyncio.ensure_future(count_turns())
    seen = []
    try:
        async for _ in TaskStream(send, ["prod"], None, {}, None, 1):
            seen.append(turns)  # the consumer itself never awaits anything
    finally:
        counter.cancel()
    assert len(seen) == 20
    # The loop turned after the 4th, 8th, 12th and 16th task, and never between the others.
    assert [i + 1 for i in range(1, 20) if seen[i] != seen[i - 1]] == [5, 9, 13, 17]


async def test_failed_calls_are_requested_again_after_pauses(pauses: list[float]) -> None:
    arns = _arns("prod", 3)
    failures = {"ListTasks": 0, "DescribeTasks": 2}
    calls: list[str] = []

    async def send(operation: str, params: dict[str, Any], *_: Any) -> Any:
        calls.append(operation)
        if operation == "ListTasks" and params.get("nextToken") is None:
            return {"taskArns": arns[:1], "nextToken": "page-2"}
        if failures[operation]:
            failures[operation] -= 1
            raise _server_error()
        if operation == "ListTasks":
            assert params["nextToken"] == "page-2"  # the same page is asked for again
            return {"taskArns": arns[1:]}
        return {"tasks": [_task(arn) for arn in params["tasks"]]}

    failures["ListTasks"] = 1
    stream = TaskStream(send, ["prod"], None, {}, None, 1)
    got = sorted([task.task_arn async for task in stream])  # type: ignore[type-var]
    assert got == arns and stream.errors == {}
    assert calls.count("ListTasks") == 3 and calls.count("DescribeTasks") == 4
    assert stream.counts.retried == 3
    assert sorted(pauses) == [0.5, 0.5, 1.0]


async def test_a_sustained_fault_ends_the_stream_after_the_last_pause(pauses: list[float]) -> None:
    arns = _arns("prod", 1)

    async def send(operation: str, params: dict[str, Any], *_: Any) -> Any:
        if operation == "ListTasks":
            return {"taskArns": arns}
        raise _server_error()

    stream = TaskStream(send, ["prod"], None, {}, None, 1)
    with pytest.raises(ECSError) as caught:
        async for _ in stream:
            pass
    assert pauses == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert stream.counts.retried == 7
    assert caught.value.code == "ServerException"
    assert caught.value.message == "cluster 'prod': We encountered an internal error."


async def test_no_second_try_before_any_answer_nor_for_errors_time_cannot_fix(
    pauses: list[float],
) -> None:
    sent: list[str] = []

    async def unreachable(operation: str, params: dict[str, Any], *_: Any) -> Any:
        sent.append(operation)
        raise _server_error()

    stream = TaskStream(unreachable, ["prod"], None, {}, None, 1)
    with pytest.raises(ECSError):
        async for _ in stream:
            pass
    assert (sent, pauses, stream.counts.retried) == (["ListTasks"], [], 0)

    async def denied(operation: str, params: dict[str, Any], *_: Any) -> Any:
        sent.append(params["cluster"])
        if params["cluster"] == "ok":
            return {"taskArns": []}
        raise ECSError("not allowed", code="AccessDeniedException", status=400)

    stream = TaskStream(denied, ["ok", "secret"], None, {}, None, 1)
    with pytest.raises(ECSError, match="not allowed"):
        async for _ in stream:
            pass
    assert sent.count("secret") == 1 and pauses == []


async def test_each_cluster_fails_on_its_own() -> None:
    good = _arns("good", 150)

    async def send(operation: str, params: dict[str, Any], *_: Any) -> Any:
        cluster = params["cluster"]
        if cluster != "good" and (operation == "ListTasks") == (cluster == "missing"):
            raise ClusterNotFoundException(
                "Cluster not found.", code="ClusterNotFoundException", status=400
            )
        if operation == "ListTasks":
            return {"taskArns": good if cluster == "good" else _arns(cluster, 2)}
        return {"tasks": [_task(arn) for arn in params["tasks"]]}

    stream = TaskStream(send, ["missing", "good", "gone"], None, {}, None, 2)
    got: list[str] = []
    with pytest.raises(ClusterNotFoundException) as caught:
        async for task in stream:
            assert task.task_arn is not None
            got.append(task.task_arn)
    assert sorted(got) == good  # every task of the cluster that works, before the error
    assert list(stream.errors) == ["missing", "gone"]
    error = caught.value
    assert str(error) == (
        "ClusterNotFoundException: cluster 'missing': Cluster not found. (HTTP 400)"
    )
    assert error.message == "cluster 'missing': Cluster not found."
    assert error.__cause__ is stream.errors["missing"]
    assert error.args == (str(error),)
    assert (error.code, error.status) == ("ClusterNotFoundException", 400)
    assert stream.errors["gone"].message == "Cluster not found."


async def test_the_deadline_is_handed_to_every_call_and_ends_the_retries(
    pauses: list[float],
) -> None:
    with pytest.raises(ValueError, match=r"^deadline is a number of seconds, more than 0$"):
        TaskStream(_never, ["prod"], None, {}, None, 1, deadline=0)
    with pytest.raises(ValueError, match="deadline"):
        TaskStream(_never, ["prod"], None, {}, None, 1, deadline=-1)
    with pytest.raises(ValueError, match=r"^concurrency must be at least 1$"):
        TaskStream(_never, ["prod"], None, {}, None, 0)
    deadlines: list[float | None] = []

    async def send(operation: str, params: dict[str, Any], counts: Any, deadline: Any) -> Any:
        deadlines.append(deadline)
        if operation == "ListTasks":
            return {"taskArns": _arns("prod", 1)}
        raise _server_error()

    before = time.monotonic()
    stream = TaskStream(send, ["prod"], None, {}, None, 1, deadline=0.75)
    with pytest.raises(ECSError):
        async for _ in stream:
            pass
    # One pause fits before the deadline, the next would end after it.
    assert pauses == [0.5] and len(deadlines) == 3
    assert deadlines[0] == deadlines[1] == deadlines[2]
    assert deadlines[0] is not None and before + 0.75 <= deadlines[0] <= time.monotonic() + 0.75
    deadlines.clear()
    async for _ in TaskStream(_listing_nothing(deadlines), ["prod"], None, {}, None, 1):
        pass
    assert deadlines == [None]


async def _never(*_: Any) -> Any:
    raise AssertionError("not called")


def _listing_nothing(deadlines: list[float | None]) -> Any:
    async def send(operation: str, params: dict[str, Any], counts: Any, deadline: Any) -> Any:
        deadlines.append(deadline)
        return {"taskArns": []}

    return send


async def test_a_described_task_that_does_not_fit_the_model_is_a_response_error() -> None:
    from aioecs._exceptions import ResponseError

    async def send(operation: str, params: dict[str, Any], *_: Any) -> Any:
        if operation == "ListTasks":
            return {"taskArns": _arns("prod", 1)}
        return {"tasks": [{"taskArn": params["tasks"][0], "containers": "not a list"}]}

    with pytest.raises(ResponseError) as caught:
        async for _ in TaskStream(send, ["prod"], None, {}, None, 1):
            pass
    cause = caught.value.__cause__
    assert cause is not None
    assert caught.value.message == (  # the task at fault named
        f"DescribeTasks answer for {_arns('prod', 1)[0]} does not match the model:"
        f" {type(cause).__name__}"
    )
    assert caught.value.code == "InvalidResponse"


async def test_a_bug_in_a_describe_reaches_the_consumer() -> None:
    async def send(operation: str, params: dict[str, Any], *_: Any) -> Any:
        if operation == "ListTasks":
            return {"taskArns": _arns("prod", 1)}
        raise RuntimeError("not a call error")

    with pytest.raises(RuntimeError, match="not a call error"):
        async for _ in TaskStream(send, ["prod"], None, {}, None, 1):
            pass


async def test_what_ecs_left_out_and_what_was_sent_are_counted() -> None:
    arns = _arns("prod", 3)

    async def send(operation: str, params: dict[str, Any], counts: Any, *_: Any) -> Any:
        counts.sent += 1
        if operation == "ListTasks":
            return {"taskArns": arns}
        return {"tasks": [_task(arns[0])], "failures": [{"reason": "MISSING"}]}

    stream = TaskStream(send, ["prod"], None, {}, None, 1)
    assert [task.task_arn async for task in stream] == arns[:1]
    assert [(f.arn, f.reason, f.detail) for f in stream.failures] == [
        (None, "MISSING", None),
        (arns[1], "NOT_RETURNED", "DescribeTasks omitted it"),
        (arns[2], "NOT_RETURNED", "DescribeTasks omitted it"),
    ]
    assert repr(stream) == "<TaskStream listed=3 yielded=1 requests=2 throttled=0 retried=0>"


async def test_the_chain_runs_ahead_by_twice_the_concurrency() -> None:
    release = asyncio.Event()
    listed = 0
    described: list[str] = []

    async def send(operation: str, params: dict[str, Any], *_: Any) -> Any:
        nonlocal listed
        if operation == "ListTasks":
            listed += 1
            return {"taskArns": _arns(f"p{listed}", 1), "nextToken": f"t{listed}"}
        described.append(params["tasks"][0])
        await release.wait()
        return {"tasks": [_task(params["tasks"][0])]}

    stream = TaskStream(send, ["prod"], None, {}, None, 2)
    first = asyncio.ensure_future(anext(aiter(stream)))
    for _ in range(200):  # the chain stops when four describes wait; two of them in flight
        await asyncio.sleep(0)
    assert (listed, len(described)) == (5, 2)
    release.set()
    await first
    await stream.aclose()


async def test_clusters_listed_by_the_stream_and_a_failed_listing() -> None:
    async def send(operation: str, params: dict[str, Any], *_: Any) -> Any:
        if operation == "ListTasks":
            return {} if params["cluster"] == "empty" else {"taskArns": _arns(params["cluster"], 1)}
        return {"tasks": [_task(arn) for arn in params["tasks"]]}

    async def every_cluster() -> AsyncIterator[str]:
        for name in ("a", "empty", "b"):
            yield name

    stream = TaskStream(send, None, every_cluster, {}, None, 1)
    got = sorted([task.task_arn async for task in stream])  # type: ignore[type-var]
    assert got == [_arns("a", 1)[0], _arns("b", 1)[0]]

    async def failing() -> AsyncIterator[str]:
        yield "a"
        raise ClusterNotFoundException("listing failed", code="X", status=400)

    with pytest.raises(ClusterNotFoundException, match="listing failed"):
        async for _ in TaskStream(send, None, failing, {}, None, 1):
            pass


async def test_an_arn_repeated_in_a_page_is_described_once() -> None:
    arns = _arns("prod", 3)
    described: list[list[str]] = []

    async def send(operation: str, params: dict[str, Any], *_: Any) -> Any:
        if operation == "ListTasks":
            return {"taskArns": [arns[0], arns[1], arns[0], arns[2], arns[1]]}
        described.append(params["tasks"])
        # ECS also answers a failure for an ARN it returned as a task.
        return {
            "tasks": [_task(arn) for arn in params["tasks"]],
            "failures": [{"arn": arns[0], "reason": "MISSING"}],
        }

    stream = TaskStream(send, ["prod"], None, {}, None, 1)
    got = [task.task_arn async for task in stream]
    assert got == arns and described == [arns]
    assert (stream.listed, stream.yielded, stream.failures) == (3, 3, [])


async def test_an_answer_with_null_members(local: LocalECS) -> None:
    async def send(operation: str, params: dict[str, Any], *_: Any) -> Any:
        if operation == "ListTasks":
            return {"taskArns": _arns("prod", 2)}
        return {"tasks": None, "failures": None}

    stream = TaskStream(send, ["prod"], None, {}, None, 1)
    assert [task async for task in stream] == []
    assert [(f.arn, f.reason) for f in stream.failures] == [
        (arn, "NOT_RETURNED") for arn in _arns("prod", 2)
    ]


async def test_clusters_deleted_while_every_cluster_is_streamed(local: LocalECS) -> None:
    kept = local.seed_tasks(150, cluster="prod", launch_type="FARGATE")
    early = local.seed_tasks(2, cluster="early", launch_type="FARGATE")
    late = local.seed_tasks(3, cluster="late", launch_type="FARGATE")

    def delete(name: str, arns: list[str]) -> None:
        for arn in arns:
            local.set_task_status(arn, "STOPPED", exit_code=0)
        local.state.delete_cluster({"cluster": name})

    def hook(operation: str, data: Any) -> Any:
        if operation == "ListClusters":
            delete("early", early)  # gone before its ListTasks
        elif operation == "ListTasks" and set(late) <= set(data.get("taskArns", ())):
            delete("late", late)  # gone before its DescribeTasks
        return data

    async with client_for(local, transport=Rewriting(hook)) as ecs:
        stream = ecs.iter_tasks(clusters="*")
        got = [t.task_arn async for t in stream]
    assert sorted(got) == sorted(kept) and stream.errors == {}
    assert sorted((f.arn, f.reason) for f in stream.failures) == sorted(
        (arn, "MISSING") for arn in late
    )
