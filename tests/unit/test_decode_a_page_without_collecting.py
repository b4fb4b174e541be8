"""Decoding a response page holds the cyclic garbage collector off: the page is a tree of
fresh objects without cycles, and young-generation collections in the middle of it only scan
the growing page. Whatever the collector's state was, it is the same afterwards."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from aioecs import models, serde
from aioecs._decoding import collected_after


@pytest.fixture
def collector() -> Iterator[list[str]]:
    """Every collection's phase while the test runs, with a young collection due every 100
    allocations: a page of 100 tasks allocates well over a thousand objects."""
    phases: list[str] = []

    def record(phase: str, info: dict[str, Any]) -> None:
        phases.append(phase)

    enabled, threshold = gc.isenabled(), gc.get_threshold()
    gc.enable()
    gc.set_threshold(100)
    gc.callbacks.append(record)
    try:
        yield phases
    finally:
        gc.callbacks.remove(record)
        gc.set_threshold(*threshold)
        if not enabled:
            gc.disable()


class _Observed(dict[str, Any]):
    """A task whose reads note whether the collector was on."""

    seen: ClassVar[list[bool]] = []

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.append(gc.isenabled())
        return super().get(key, default)


def _page(count: int) -> dict[str, Any]:
    container = {"name": "web", "lastStatus": "RUNNING", "networkBindings": [{"hostPort": 80}]}
    task = {
        "taskArn": "arn:aws:ecs:us-east-1:1:task/c/0",
        "createdAt": 1714564803.25,
        "containers": [container, dict(container, name="sidecar")],
        "tags": [{"key": "team", "value": "a"}],
    }
    return {"tasks": [dict(task) for _ in range(count)], "failures": []}


def test_a_page_decodes_without_a_collection(collector: list[str]) -> None:
    page, cls = _page(100), models.DescribeTasksResponse  # the model loaded beforehand
    gc.collect()  # the count of allocations starts from zero
    collector.clear()
    response = serde.decode(cls, page)
    collections = len(collector)  # allocates nothing: the one collection due comes after
    assert collections == 0
    assert len(response.tasks) == 100 and response.tasks[0].containers[1].name == "sidecar"
    assert gc.isenabled()


def test_the_decoder_runs_with_the_collector_off() -> None:
    _Observed.seen = []
    page = {"tasks": [_Observed(taskArn="arn:t")], "failures": []}
    assert serde.decode(models.DescribeTasksResponse, page).tasks[0].task_arn == "arn:t"
    assert _Observed.seen and not any(_Observed.seen)
    assert gc.isenabled()


def test_a_failed_decode_turns_the_collector_back_on() -> None:
    page = {"tasks": [{"containers": 3}]}  # not a list: the Task decoder raises
    with pytest.raises(TypeError):
        serde.decode(models.DescribeTasksResponse, page)
    assert gc.isenabled()

    def fail(data: Any) -> Any:
        assert not gc.isenabled()
        raise ValueError(data)

    with pytest.raises(ValueError, match="page"):
        collected_after(fail, "page")
    assert gc.isenabled()


def test_a_decode_inside_a_collector_pause_leaves_it_paused() -> None:
    gc.disable()
    try:
        assert collected_after(lambda data: data * 2, 21) == 42
        serde.decode(models.DescribeTasksResponse, _page(2))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_decoding_a_response_loads_no_cattrs() -> None:
    """Responses decode through generated code: cattrs (about 14 ms to import) is for
    requests, `to_dict` and `from_dict`, which the client warms up off the event loop."""
    child = textwrap.dedent(
        """
        import sys

        from aioecs import models, serde

        wire = {"tasks": [{"taskArn": "arn:a", "createdAt": 1.5, "containers": [{"name": "c"}]}]}
        answer = serde.decode(models.DescribeTasksResponse, wire)
        assert answer.tasks[0].containers[0].name == "c", answer
        print(sorted(m for m in sys.modules if m.split(".")[0] == "cattrs"))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"


def test_the_fan_out_decodes_a_page_with_the_collector_off_and_hands_out_what_fits() -> None:
    from aioecs._task_pages import decoded_page
    from aioecs.errors import ResponseError

    states: list[bool] = []

    def decode(raw: dict[str, Any]) -> str:
        states.append(gc.isenabled())
        if raw.get("containers") == "not a list":
            raise TypeError("containers: not a list")
        return str(raw["taskArn"])

    page = [{"taskArn": "a"}, {"taskArn": "b", "containers": "not a list"}, {"taskArn": "c"}]
    handed: list[str] = []
    with pytest.raises(ResponseError, match="DescribeTasks answer for b"):
        handed.extend(decoded_page(decode, page))
    assert handed == ["a"]  # what came before the task at fault
    assert states == [False, False]  # the page decoded with the collector held off
    assert gc.isenabled()
