"""botocore-style waiters (`ecs.wait_<name>`) end when their `timeout` says, even mid-poll."""

from __future__ import annotations

import asyncio

import pytest

from aioecs import Credentials, ECSClient, HttpRequest, HttpResponse, MockTransport
from aioecs.errors import WaiterError

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
