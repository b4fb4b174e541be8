"""Errors that say what failed, survive pickling, and catch misuse at the point of misuse."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aioecs import ECSClient
from aioecs import errors as E
from aioecs import models as m
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


# -- waiters ------------------------------------------------------------------------------------


async def test_waiter_failure_names_each_task_its_status_and_reason(
    ecs: ECSClient, local: LocalECS
) -> None:
    arns = local.seed_tasks(3, cluster="prod")
    local.stop_task(arns[1], reason="Essential container in task exited")
    ghost = arns[0][:-4] + "0000"
    with pytest.raises(E.WaiterError) as caught:
        await ecs.wait_tasks_running(cluster="prod", tasks=[*arns, ghost], delay=0.01)
    error = caught.value
    text = str(error)
    assert f"{arns[1]}: STOPPED (Essential container in task exited)" in text
    assert f"{ghost}: MISSING" in text
    assert arns[0] not in text.replace(ghost, "")  # the running ones are not blamed
    assert isinstance(error.last_response, m.DescribeTasksResponse)
    assert len(repr(error)) < 100 and "DescribeTasksResponse" not in repr(error)


async def test_timed_out_stopped_waiter_names_the_tasks_still_running(
    ecs: ECSClient, local: LocalECS
) -> None:
    arns = local.seed_tasks(2, cluster="prod")
    local.stop_task(arns[0])
    with pytest.raises(E.WaiterError, match="timed out") as caught:
        await ecs.wait_tasks_stopped(cluster="prod", tasks=arns, delay=0.01, timeout=0.1)
    assert caught.value.details == [f"{arns[1]}: RUNNING"]


async def test_a_long_list_of_tasks_is_cut_short(ecs: ECSClient, local: LocalECS) -> None:
    arns = local.seed_tasks(25, cluster="prod")
    for arn in arns:
        local.stop_task(arn, reason="scaled in")
    with pytest.raises(E.WaiterError) as caught:
        await ecs.wait_tasks_running(cluster="prod", tasks=arns, delay=0.01)
    assert caught.value.details[-1] == "and 15 more"
    assert len(caught.value.details) == 11


# -- pickling -----------------------------------------------------------------------------------


def _public_exceptions() -> list[type[BaseException]]:
    classes = [getattr(E, name) for name in E.__all__ if name != "MODELED_ERRORS"]
    assert len(classes) > 30
    return classes


def _instance(cls: type[BaseException]) -> BaseException:
    if cls is E.ValidationError:
        return E.ValidationError("RunTask", [("count", "must be at least 1"), ("", "bad")])
    if cls is E.WaiterError:
        last = m.DescribeTasksResponse(failures=[m.Failure(arn="arn:x", reason="MISSING")])
        return E.WaiterError(
            "TasksRunning", "a failure state was reached", last, ["arn:x: MISSING"]
        )
    if cls is E.TransportError:
        return E.TransportError("ListTasks: could not connect", code="ConnectError", sent=False)
    if cls is E.DeadlineExceeded:
        return E.DeadlineExceeded("ListTasks: late", limit="total_timeout", seconds=2.0, sent=True)
    if cls is E.JobStartError:
        return E.JobStartError("RunTask failed after 10 of 20 tasks started", job=None)
    if issubclass(cls, E.ECSError):
        error = cls("boom", code=cls.__name__, request_id="req-1", status=400)
        error.seen_by = "a program's own note"  # set after construction: pickled too
        return error
    return cls("something went wrong")


def _attributes(error: BaseException) -> dict[str, Any]:
    return {**vars(error), "args": error.args, "str": str(error), "type": type(error)}


@pytest.mark.parametrize("cls", _public_exceptions(), ids=lambda c: c.__name__)
def test_every_public_exception_survives_pickle(cls: type[BaseException]) -> None:
    error = _instance(cls)
    again = pickle.loads(pickle.dumps(error))
    assert _attributes(again) == _attributes(error)
    assert str(again) == str(error) != ""


# -- constructor checks -------------------------------------------------------------------------


def test_credentials_dict_of_the_documented_keys_is_accepted() -> None:
    ecs = ECSClient(
        region="eu-west-1",
        credentials={"access_key_id": "AKIDEXAMPLE", "secret_access_key": "s3cr3t"},
    )
    assert "s3cr3t" not in repr(ecs)


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        ({"aws_access_key_id": "AKID", "aws_secret_access_key": "x"}, "unknown: aws_access_key_id"),
        ({"access_key_id": "AKID"}, "missing: secret_access_key"),
        (("AKID", "secret"), "not tuple"),
        ("AKID:secret", "not str"),
    ],
)
def test_wrong_credentials_fail_in_the_constructor(credentials: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message) as caught:
        ECSClient(region="eu-west-1", credentials=credentials)
    assert "secret" not in str(caught.value).replace("secret_access_key", "")


async def test_a_dict_of_credentials_signs_requests(local: LocalECS) -> None:
    key, secret = local.credentials
    async with client_for(
        local, credentials={"access_key_id": key, "secret_access_key": secret}
    ) as ecs:
        assert (await ecs.list_clusters()).cluster_arns == []


def test_reuse_on_another_event_loop_says_so() -> None:
    with LocalECS.in_thread() as local:
        ecs = client_for(local)
        first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
        try:
            first.run_until_complete(ecs.list_clusters())
            with pytest.raises(RuntimeError, match="another event loop"):
                second.run_until_complete(ecs.list_clusters())
            with pytest.raises(RuntimeError, match="another event loop"):
                second.run_until_complete(ecs.__aenter__())
            first.run_until_complete(ecs.close())
        finally:
            first.close()
            second.close()
