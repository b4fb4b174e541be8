"""Decoding and encoding: fixtures from the docs, lenient enums, timestamps, round trips,
and differential checks against botocore's own parser on the same bytes."""

from __future__ import annotations

import json
import typing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aioecs import _converters, models, serde
from aioecs._spec import shape_of

from .._differential import assert_same, botocore_parse

UTC = timezone.utc


def _fixture(shared_dir: Path, name: str) -> bytes:
    return (shared_dir / "fixtures" / name).read_bytes()


def test_describe_tasks_sample_decodes_exactly(shared_dir: Path) -> None:
    body = _fixture(shared_dir, "describe_tasks.api_reference.json")
    out = serde.decode(models.DescribeTasksResponse, json.loads(body))
    task = out.tasks[0]
    assert task.task_arn is not None and task.task_arn.endswith(
        "1dc5c17a-422b-4dc4-b493-371970c6c4d6"
    )
    assert task.created_at == datetime(2016, 10, 18, 20, 33, 31, 295000, tzinfo=UTC)
    # Milliseconds survive decoding (a headline promise), said explicitly once:
    assert task.started_at is not None and task.started_at.microsecond == 998000
    assert task.containers[0].network_bindings[0].host_port == 32774
    assert out.failures == []


def test_start_task_sample_decodes_exactly(shared_dir: Path) -> None:
    body = _fixture(shared_dir, "start_task.api_reference.json")
    out = serde.decode(models.StartTaskResponse, json.loads(body))
    task = out.tasks[0]
    assert task.created_at == datetime(2016, 11, 21, 21, 57, 40, 842000, tzinfo=UTC)
    assert [c.last_status for c in task.containers] == ["PENDING", "PENDING"]


def test_list_tasks_sample_decodes(shared_dir: Path) -> None:
    body = _fixture(shared_dir, "list_tasks.boto3_example.json")
    data = json.loads(body)
    data = data.get("response", data)
    out = serde.decode(models.ListTasksResponse, data)
    assert len(out.task_arns) == 2 and out.next_token is None


@pytest.mark.parametrize(
    ("operation", "name"),
    [
        ("DescribeTasks", "describe_tasks.api_reference.json"),
        ("StartTask", "start_task.api_reference.json"),
        ("ListTasks", "list_tasks.boto3_example.json"),
    ],
)
def test_fixtures_match_botocore(shared_dir: Path, operation: str, name: str) -> None:
    body = _fixture(shared_dir, name)
    data = json.loads(body)
    if "response" in data:  # the boto3 example wraps the body
        data = data["response"]
        body = json.dumps(data).encode()
    ours = serde.decode(getattr(models, f"{operation}Response"), data)
    assert assert_same(ours, botocore_parse(operation, body)) > 0


def test_unknown_enum_values_and_members_decode() -> None:
    data = {
        "tasks": [
            {
                "taskArn": "arn:aws:ecs:us-east-1:1:task/c/1",
                "launchType": "SOME_FUTURE_LAUNCH_TYPE",
                "brandNewMember": {"nested": [1, 2, 3]},
                "containers": [{"name": "web", "healthStatus": "SOMETHING_NEW", "x": 1}],
            }
        ],
        "someNewTopLevel": True,
    }
    out = serde.decode(models.DescribeTasksResponse, data)
    assert out.tasks[0].launch_type == "SOME_FUTURE_LAUNCH_TYPE"
    assert out.tasks[0].containers[0].health_status == "SOMETHING_NEW"
    assert not hasattr(out.tasks[0], "brand_new_member")


def test_recent_enum_value_decodes() -> None:
    task = serde.decode(models.Task, {"launchType": "MANAGED_INSTANCES"})
    assert task.launch_type == "MANAGED_INSTANCES"


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (1476822811.295, datetime(2016, 10, 18, 20, 33, 31, 295000, tzinfo=UTC)),
        (1476822811, datetime(2016, 10, 18, 20, 33, 31, tzinfo=UTC)),
        (0.001, datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC)),
        ("2016-10-18T20:33:31.295Z", datetime(2016, 10, 18, 20, 33, 31, 295000, tzinfo=UTC)),
    ],
)
def test_timestamps_decode_to_utc(wire: Any, expected: datetime) -> None:
    task = serde.decode(models.Task, {"createdAt": wire})
    assert task.created_at == expected
    assert task.created_at is not None and task.created_at.tzinfo is UTC


def test_timestamps_encode_to_epoch_seconds() -> None:
    when = datetime(2016, 10, 18, 20, 33, 31, 295000, tzinfo=UTC)
    assert serde.encode(models.Task(created_at=when)) == {"createdAt": 1476822811.295}
    whole = datetime(2016, 10, 18, 20, 33, 31, tzinfo=UTC)
    assert serde.encode(models.Task(created_at=whole)) == {"createdAt": 1476822811}


def test_encode_omits_none_and_uses_wire_names() -> None:
    request = models.StartTaskRequest(
        task_definition="hello_world:6",
        container_instances=["ci"],
        enable_ecs_managed_tags=True,
        overrides=models.TaskOverride(
            container_overrides=[models.ContainerOverride(name="web", command=["run"])]
        ),
    )
    assert serde.encode(request) == {
        "taskDefinition": "hello_world:6",
        "containerInstances": ["ci"],
        "enableECSManagedTags": True,
        "overrides": {"containerOverrides": [{"name": "web", "command": ["run"]}]},
    }


def test_explicit_empty_input_list_is_sent() -> None:
    request = models.UpdateServiceRequest(service="web", load_balancers=[])
    assert serde.encode(request) == {"service": "web", "loadBalancers": []}


# --- property tests: every generated model survives encode -> JSON -> decode ---------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**31), 2**31) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)
_TIMES = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))


def _strategy(
    tp: Any, depth: int, times: st.SearchStrategy[datetime] = _TIMES
) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        inner = [a for a in args if a is not type(None)]
        return st.none() | _strategy(inner[0], depth, times)
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin is list:
        return st.lists(_strategy(args[0], depth, times), max_size=2 if depth < 3 else 0)
    if origin is dict:
        return st.dictionaries(st.text(max_size=4), _strategy(args[1], depth, times), max_size=2)
    if tp is typing.Any:
        return _JSON
    if attrs.has(tp):
        return _model_strategy(tp, depth + 1, times)
    return {
        str: st.text(max_size=8),
        int: st.integers(-(2**53), 2**53),
        bool: st.booleans(),
        float: st.floats(allow_nan=False, allow_infinity=False),
        datetime: times,
    }[tp]


def _model_strategy(
    cls: type[Any], depth: int = 0, times: st.SearchStrategy[datetime] = _TIMES
) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for field in attrs.fields(cls):
        strategy = _strategy(hints[field.name], depth, times)
        if field.default is not attrs.NOTHING and depth > 4:
            strategy = st.just(None) if field.default is None else st.just([])
        kwargs[field.name] = strategy
    return st.builds(cls, **kwargs)


_ALL_MODELS = sorted(
    name
    for name in models.__all__
    if isinstance(cls := getattr(models, name), type)
    and (shape := shape_of(cls)) is not None
    and shape.wire_names
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(_ALL_MODELS).flatmap(lambda n: _model_strategy(getattr(models, n))))
def test_round_trip_any_model(obj: Any) -> None:
    wire = json.loads(json.dumps(serde.encode(obj)))
    assert serde.decode(type(obj), wire) == obj


@settings(max_examples=100, deadline=None)
@given(_model_strategy(models.DescribeTasksResponse))
def test_round_trip_describe_tasks_matches_botocore(obj: models.DescribeTasksResponse) -> None:
    body = json.dumps(serde.encode(obj)).encode()
    ours = serde.decode(models.DescribeTasksResponse, json.loads(body))
    assert ours == obj
    assert_same(ours, botocore_parse("DescribeTasks", body))


@given(_TIMES)
def test_timestamp_round_trip_keeps_milliseconds(when: datetime) -> None:
    wire = serde.encode(models.Task(created_at=when))
    again = serde.decode(models.Task, json.loads(json.dumps(wire)))
    assert again.created_at == when
    assert abs(again.created_at - when) < timedelta(microseconds=1)  # type: ignore[operator]


# --- to_dict / from_dict: JSON of your own, read back strictly --------------------------------

# Any instant, to the microsecond, in any offset: to_dict must not round or shift it.
_ANY_TIMES = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=-7)), timezone(timedelta(hours=5, minutes=30))]
    ),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.sampled_from(_ALL_MODELS).flatmap(
        lambda n: _model_strategy(getattr(models, n), times=_ANY_TIMES)
    )
)
def test_to_dict_from_dict_round_trip_any_model(obj: Any) -> None:
    data = json.loads(json.dumps(serde.to_dict(obj)))  # JSON-ready, exactly
    assert serde.from_dict(type(obj), data) == obj


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_model_strategy(models.Task, times=_ANY_TIMES))
def test_to_dict_of_a_task_has_snake_case_keys_iso_times_and_no_none(task: models.Task) -> None:
    def walk(value: Any) -> None:
        assert value is not None
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    data = serde.to_dict(task)
    for attr in data:
        assert attr == attr.lower() and hasattr(task, attr)
    if task.created_at is not None:
        assert data["created_at"].endswith("Z")
        assert datetime.fromisoformat(data["created_at"][:-1] + "+00:00") == task.created_at
    walk({k: v for k, v in data.items() if k != "attributes"})
    assert serde.from_dict(models.Task, data) == task


def test_to_dict_keeps_an_explicitly_empty_input_list_and_drops_defaults() -> None:
    request = models.UpdateServiceRequest(service="web", load_balancers=[])
    assert serde.to_dict(request) == {"service": "web", "load_balancers": []}
    assert serde.to_dict(models.Task()) == {}


def test_from_dict_reads_attrs_asdict_too() -> None:
    task = models.Task(
        task_arn="arn:t",
        created_at=datetime(2024, 5, 1, 12, 0, 3, 250000, tzinfo=UTC),
        containers=[models.Container(name="web")],
    )
    assert serde.from_dict(models.Task, attrs.asdict(task)) == task


def test_from_dict_names_every_bad_path() -> None:
    from aioecs.errors import ValidationError

    with pytest.raises(ValidationError) as caught:
        serde.from_dict(
            models.Task,
            {
                "taskArn": "arn:t",  # a wire name: unknown here
                "last_status": 5,
                "created_at": 1714564803.25,  # epoch seconds are the wire's, not to_dict's
                "containers": [{"name": "web", "exit_code": "0"}],
            },
        )
    assert sorted(caught.value.problems) == [
        ("containers[0].exit_code", "expected an integer, got str"),
        ("created_at", "expected an ISO 8601 timestamp, got float"),
        ("last_status", "expected a string, got int"),
        ("taskArn", "unknown member"),
    ]
    assert str(caught.value).startswith("invalid Task data:")
    with pytest.raises(ValidationError, match="expected Task or a mapping"):
        serde.from_dict(models.Task, ["arn:t"])


def test_decode_stays_lenient_for_the_wire() -> None:
    task = serde.decode(models.Task, {"taskArn": "arn:t", "brandNew": 1})
    assert task.task_arn == "arn:t"


# --- generated decoders: the models of cattrs' generic path, built faster ----------------------

_GENERIC = _converters._wire_converter(generated=False)
_OUTPUT_MODELS = [
    n
    for n in models.__all__
    if n[0].isupper() and _converters._generated_decoder(getattr(models, n))
]


def _same_model(ours: Any, theirs: Any) -> None:
    """Equal, and of the same types all the way down (== alone lets 1 == 1.0 == True)."""
    assert ours == theirs
    assert type(ours) is type(theirs)
    if attrs.has(type(ours)):
        for field in attrs.fields(type(ours)):
            _same_model(getattr(ours, field.name), getattr(theirs, field.name))
    elif isinstance(ours, list):
        for a, b in zip(ours, theirs, strict=True):
            _same_model(a, b)
    elif isinstance(ours, dict):
        for key in ours:
            _same_model(ours[key], theirs[key])
    elif isinstance(ours, datetime):
        assert ours.tzinfo is UTC and theirs.tzinfo is UTC


def test_every_output_structure_decodes_through_generated_code() -> None:
    # Task, its parts, and every response: what the codegen IR calls outputs.
    assert {"Task", "Container", "DescribeTasksResponse", "Failure"} <= set(_OUTPUT_MODELS)
    assert len(_OUTPUT_MODELS) > 150
    for name in _OUTPUT_MODELS:
        cls = getattr(models, name)
        assert serde.decoder(cls) is _converters._generated_decoder(cls)
    # Input-only structures keep cattrs' path.
    assert _converters._generated_decoder(models.StartTaskRequest) is None
    serde.decode(models.StartTaskRequest, {"taskDefinition": "web:1"})


@pytest.mark.parametrize(
    ("cls", "name"),
    [
        (models.DescribeTasksResponse, "describe_tasks.api_reference.json"),
        (models.StartTaskResponse, "start_task.api_reference.json"),
        (models.ListTasksResponse, "list_tasks.boto3_example.json"),
    ],
)
def test_generated_decoders_agree_with_cattrs_on_fixtures(
    shared_dir: Path, cls: type[Any], name: str
) -> None:
    data = json.loads(_fixture(shared_dir, name))
    data = data.get("response", data)
    _same_model(serde.decode(cls, data), _GENERIC.structure(data, cls))


def _with_nulls(obj: Any, wire: Any, draw: Any) -> Any:
    """`wire` (the encoding of `obj`) with some of the members it leaves out sent as null."""
    if attrs.has(type(obj)):
        renames = shape_of(type(obj)).wire_names  # type: ignore[union-attr]
        for field in attrs.fields(type(obj)):
            name = renames.get(field.name, field.name)
            if name in wire:
                wire[name] = _with_nulls(getattr(obj, field.name), wire[name], draw)
            elif draw(st.booleans()):
                wire[name] = None
    elif isinstance(obj, list):
        return [_with_nulls(item, sent, draw) for item, sent in zip(obj, wire, strict=True)]
    return wire


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(_OUTPUT_MODELS).flatmap(lambda n: _model_strategy(getattr(models, n))))
def test_generated_decoders_agree_with_cattrs(obj: Any) -> None:
    cls = type(obj)
    wire = json.loads(json.dumps(serde.encode(obj)))
    generic = _GENERIC.structure(wire, cls)
    _same_model(serde.decode(cls, wire), generic)
    assert serde.decode(cls, wire) == obj


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_model_strategy(models.DescribeTasksResponse), st.data())
def test_null_members_decode_as_absent_like_botocore(
    obj: models.DescribeTasksResponse, data: st.DataObject
) -> None:
    body = json.dumps(_with_nulls(obj, serde.encode(obj), data.draw)).encode()
    ours = serde.decode(models.DescribeTasksResponse, json.loads(body))
    assert ours == obj  # an output list sent as null is [] as when absent
    assert_same(ours, botocore_parse("DescribeTasks", body))


def test_generated_models_are_ordinary_instances() -> None:
    import pickle

    wire = {
        "taskArn": "arn:t",
        "createdAt": 1476822811.295,
        "containers": [{"name": "web", "networkBindings": [{"hostPort": 80}]}],
        "overrides": {"containerOverrides": [], "cpu": "256"},
    }
    task = serde.decode(models.Task, wire)
    built = models.Task(
        task_arn="arn:t",
        created_at=datetime(2016, 10, 18, 20, 33, 31, 295000, tzinfo=UTC),
        containers=[
            models.Container(name="web", network_bindings=[models.NetworkBinding(host_port=80)])
        ],
        overrides=models.TaskOverride(cpu="256"),
    )
    assert type(task) is models.Task and type(task.containers[0]) is models.Container
    assert task == built and repr(task) == repr(built)
    binding = task.containers[0].network_bindings[0]
    assert hash(binding) == hash(models.NetworkBinding(host_port=80))  # no lists: hashable
    assert pickle.loads(pickle.dumps(task)) == task
    assert attrs.evolve(task, cpu="512").cpu == "512"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        task.cpu = "512"  # type: ignore[misc]


@pytest.mark.parametrize(
    "wire",
    [
        "arn:aws:ecs:us-east-1:1:task/c/1",  # a string where a Task belongs
        ["taskArn"],
        {"tasks": "arn"},  # a string where a list of tasks belongs
        {"tasks": [{"createdAt": [1]}]},  # not a timestamp
        {"tasks": [{"overrides": "cpu"}]},
        {"tasks": 3},
    ],
)
def test_a_response_that_is_not_the_model_raises(wire: Any) -> None:
    with pytest.raises((TypeError, AttributeError, ValueError)):
        serde.decode(models.DescribeTasksResponse, wire)
