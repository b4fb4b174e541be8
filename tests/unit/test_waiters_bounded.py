"""botocore-style waiters (`ecs.wait_<name>`) end when their `timeout` says, even mid-poll."""

from __future__ import annotations

import asyncio
import json

import pytest

from aioecs import Credentials, ECSClient, HttpRequest, HttpResponse, MockTransport
from aioecs.errors import ClientClosedError, DeadlineExceeded, WaiterError

ARN = "arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef"


def _client(handler: object) -> ECSClient:
    return ECSClient(
        region="us-east-1",
        credentials=Credentials(access_key_id="AKID", secret_access_key="secret"),
        transport=MockTransport(handler),  # type: ignore[arg-type]
    )


async def test_a_poll_that_hangs_is_cut_at_the_timeout() -> None:
    polls = 0

    async def hangs(request: HttpRequest) -> HttpResponse:
        nonlocal polls
        polls += 1
        await asyncio.Event().wait()  # the network hangs: never an answer
        raise AssertionError("unreachable")

    async with _client(hangs) as ecs:
        with pytest.raises(WaiterError, match=r"timed out after 0\.2 s") as caught:
            # The guard only keeps a failing run from hanging the suite.
            await asyncio.wait_for(
                ecs.wait_tasks_stopped(cluster="prod", tasks=[ARN], timeout=0.2), 30
            )
    assert polls == 1
    assert caught.value.waiter == "TasksStopped"


def _tasks(status: str) -> HttpResponse:
    task = {"taskArn": ARN, "lastStatus": status, "desiredStatus": "STOPPED"}
    return HttpResponse(200, {}, json.dumps({"tasks": [task], "failures": []}).encode())


async def test_the_last_pause_leaves_time_for_a_last_poll() -> None:
    """A delay longer than the timeout: the waiter wakes before its deadline, not at it, so
    a task that stopped meanwhile is seen (waking at the deadline left the poll no time)."""
    polls = 0

    async def stops_after_the_first_poll(request: HttpRequest) -> HttpResponse:
        nonlocal polls
        polls += 1
        return _tasks("RUNNING" if polls == 1 else "STOPPED")

    async with _client(stops_after_the_first_poll) as ecs:
        answer = await asyncio.wait_for(
            ecs.wait_tasks_stopped(cluster="prod", tasks=[ARN], delay=30, timeout=0.5), 30
        )
    assert answer.tasks[0].last_status == "STOPPED"
    assert polls == 2


async def test_close_wakes_a_waiter_between_polls() -> None:
    polled = asyncio.Event()

    async def never_stops(request: HttpRequest) -> HttpResponse:
        polled.set()
        return _tasks("RUNNING")

    ecs = _client(never_stops)
    async with ecs:
        waiting = asyncio.ensure_future(
            ecs.wait_tasks_stopped(cluster="prod", tasks=[ARN], delay=60)
        )
        await polled.wait()
        await asyncio.sleep(0.05)  # asleep between polls now
        await ecs.close()
        with pytest.raises(ClientClosedError):
            await asyncio.wait_for(waiting, 10)


async def test_a_calls_own_deadline_is_its_error_not_the_waits_timeout() -> None:
    """`DeadlineExceeded` (the client's `total_timeout`) is a `TimeoutError` too: a waiter
    without a timeout of its own reports it as the call's error, not as its own time running
    out ("timed out after None s")."""

    async def hangs(request: HttpRequest) -> HttpResponse:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    ecs = ECSClient(
        region="us-east-1",
        credentials=Credentials(access_key_id="AKID", secret_access_key="secret"),
        transport=MockTransport(hangs),  # type: ignore[arg-type]
        total_timeout=0.2,
    )
    async with ecs:
        with pytest.raises(WaiterError, match="unexpected error") as caught:
            await asyncio.wait_for(ecs.wait_tasks_stopped(cluster="prod", tasks=[ARN]), 30)
    assert isinstance(caught.value.__cause__, DeadlineExceeded)
