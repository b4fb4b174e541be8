"""`to_dict`/`from_dict` round-trip what they accept and refuse, with the path, what JSON
cannot hold exactly (issue 24, finding 8): naive datetimes, required members that are None,
times finer than a microsecond, NaN and infinity."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aioecs import models as m
from aioecs import serde
from aioecs.errors import ValidationError

from .test_serde import _ALL_MODELS, _model_strategy

UTC = timezone.utc
# Naive or in any offset, to the microsecond.
_TIMES = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.none() | st.sampled_from([UTC, timezone(timedelta(hours=-7))]),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(_ALL_MODELS).flatmap(lambda n: _model_strategy(getattr(m, n), times=_TIMES)))
def test_every_model_round_trips_naive_and_aware_times_alike(obj: Any) -> None:
    text = json.dumps(serde.to_dict(obj), allow_nan=False)  # valid JSON, always
    again = serde.from_dict(type(obj), json.loads(text))
    assert again == obj
    assert serde.to_dict(again) == serde.to_dict(obj)  # naive stays naive, aware stays aware


def test_a_naive_datetime_reads_back_naive_and_equal() -> None:
    task = m.Task(created_at=datetime(2024, 5, 1, 12, 0, 3, 250000))
    assert serde.to_dict(task) == {"created_at": "2024-05-01T12:00:03.250"}
    assert serde.from_dict(m.Task, serde.to_dict(task)) == task
    aware = m.Task(created_at=datetime(2024, 5, 1, 12, 0, 3, 250000, tzinfo=UTC))
    assert serde.from_dict(m.Task, serde.to_dict(aware)) == aware


def test_a_required_member_that_is_none_is_refused_with_its_path() -> None:
    # What a lenient decode of an answer without `name` gives.
    task = serde.decode(m.Task, {"attributes": [{"value": "x"}], "taskArn": "arn:t"})
    assert task.attributes is not None and task.attributes[0].name is None
    with pytest.raises(ValidationError) as caught:
        serde.to_dict(task)
    assert caught.value.problems == [("attributes[0].name", "required member missing")]
    assert str(caught.value).startswith("invalid Task data:")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused_never_written(bad: float) -> None:
    config = m.CanaryConfiguration(canary_percent=bad)
    with pytest.raises(ValidationError) as caught:
        serde.to_dict(config)
    assert caught.value.problems == [
        ("canary_percent", f"{bad} is not a finite number: JSON cannot hold it")
    ]
    with pytest.raises(ValidationError, match="expected a finite number"):
        serde.from_dict(m.CanaryConfiguration, {"canary_percent": bad})
    with pytest.raises(ValueError):
        serde.from_dict(m.CanaryConfiguration, json.loads('{"canary_percent": NaN}'))


def test_a_time_finer_than_a_microsecond_is_refused_not_cut() -> None:
    with pytest.raises(ValidationError, match="finer than a microsecond"):
        serde.from_dict(m.Task, {"created_at": "2024-05-01T12:00:03.123456789Z"})
    # Trailing zeros lose nothing: read as the microseconds they are.
    task = serde.from_dict(m.Task, {"created_at": "2024-05-01T12:00:03.123456000Z"})
    assert task.created_at == datetime(2024, 5, 1, 12, 0, 3, 123456, tzinfo=UTC)
