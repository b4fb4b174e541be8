"""Decoding the agent's metadata documents: times as the agent writes them, and leniency
towards whatever a later agent sends (see tests/integration/test_in_task.py for the
documented examples over HTTP)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aioecs._task_metadata import decode_container, decode_task, parse_time
from aioecs.testing._task_agent import rfc3339

UTC_TIMES = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(timezone.utc)
)

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)

TASK_KEYS = [
    "Cluster", "Family", "Revision", "ServiceName", "DesiredStatus", "KnownStatus",
    "AvailabilityZone", "LaunchType", "VPCID", "Limits", "PullStartedAt", "PullStoppedAt",
    "ExecutionStoppedAt", "TaskTags", "ContainerInstanceTags", "Containers",
]  # fmt: skip
CONTAINER_KEYS = [
    "DockerId", "DockerName", "Image", "ImageID", "Labels", "DesiredStatus", "KnownStatus",
    "Limits", "CreatedAt", "StartedAt", "FinishedAt", "ExitCode", "Health", "Type",
    "ContainerARN", "LogDriver", "LogOptions", "Networks", "Ports", "RestartCount",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    UTC_TIMES,
    st.integers(0, 9),
    st.sampled_from(["Z", "z", "+00:00", "+05:30", "-08:00"]),
    st.integers(0, 999),
)
def test_rfc3339_times_are_read_to_the_microsecond(
    moment: datetime, digits: int, zone: str, nanos: int
) -> None:
    offset = timedelta(0)
    if zone[0] in "+-":
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        offset = offset if zone[0] == "+" else -offset
    local = (moment + offset).replace(tzinfo=None)
    fraction = f"{local.microsecond:06d}{nanos:03d}"[:digits]
    text = local.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if digits else "") + zone
    expected = moment.replace(microsecond=int(fraction[:6].ljust(6, "0")) if digits else 0)
    assert parse_time(text) == expected


@given(st.integers(86_400_000, 7_000_000_000_000))
def test_localecs_agent_times_round_trip(ms: int) -> None:
    assert parse_time(rfc3339(ms / 1000)) == datetime.fromtimestamp(ms / 1000, timezone.utc)


def test_unreadable_times_are_none() -> None:
    for text in [
        "",
        "yesterday",
        "2020-13-01T00:00:00Z",
        "2020-10-08T20:47:16",
        "0001-01-01T00:00:00Z",
    ]:
        assert parse_time(text) is None, text


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(st.sampled_from(TASK_KEYS), JSON_VALUES),
    st.lists(st.dictionaries(st.sampled_from(CONTAINER_KEYS), JSON_VALUES), max_size=3),
)
def test_any_values_under_known_keys_decode(task: dict[str, Any], containers: list[Any]) -> None:
    # Whatever a later agent puts under the keys we read: never an exception, only None or
    # empty where the value is not what we expect.
    document = {**task, "TaskARN": "arn:aws:ecs:us-east-1:1:task/c/t"}
    if containers:
        document["Containers"] = [{**c, "Name": f"c{i}"} for i, c in enumerate(containers)]
    decoded = decode_task(document)
    assert decoded.task_arn == "arn:aws:ecs:us-east-1:1:task/c/t"
    if containers:
        assert len(decoded.containers) == len(containers)
    for container in containers:
        decode_container({**container, "Name": "x"})
