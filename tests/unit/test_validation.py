"""Request validation (`aioecs._validate`): every problem of a request is reported, with its
path, before anything is encoded, signed or sent.

Unit tests per rule (model constraints, the documented limits the model lacks, the Java regex
translation, sensitive values), then hypothesis-generated invalid requests: checked without
HTTP, and sent through a real client to `LocalECS` to prove that none of them reaches the
server, plus valid boundary requests that must go through.
"""

from __future__ import annotations

import json
import string
import typing
import unicodedata
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any, ClassVar, Literal, NamedTuple

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aioecs import ECSClient, _validate, serde
from aioecs import models as m
from aioecs._spec import ShapeSpec, shape_of
from aioecs.errors import ValidationError
from aioecs.testing import LocalECS

from ..servers import client_for

TAG_PATTERN = r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)"
ROLE = "arn:aws:iam::123456789012:role/ecs"
SHAPES = {
    name: shape
    for name in m.__all__
    if isinstance(cls := getattr(m, name), type) and (shape := shape_of(cls)) is not None
}
"""Every model's descriptor, by class name."""


def problems(operation: str, **params: Any) -> list[tuple[str, str]]:
    """What the client does before sending: build the request model, then validate it."""
    cls = getattr(m, f"{operation}Request")
    try:
        spec = ECSClient._service.operations[operation]
        _validate.validate(spec, serde.build_request(operation, cls, params))
    except ValidationError as exc:
        assert exc.operation == operation
        return exc.problems
    return []


def paths(operation: str, **params: Any) -> list[str]:
    return [path for path, _ in problems(operation, **params)]


def message(operation: str, path: str, **params: Any) -> str:
    found = [text for where, text in problems(operation, **params) if where == path]
    assert found, f"no problem at {path}: {problems(operation, **params)}"
    return found[0]


def tags(n: int) -> list[dict[str, str]]:
    return [{"key": f"k{i}", "value": "v"} for i in range(n)]


def overrides_of(size: int, container: str = "web", fill: str = "x") -> dict[str, Any]:
    """Overrides whose wire JSON is exactly `size` characters."""
    empty = {"container_overrides": [{"name": container, "command": [""]}]}
    base = len(_wire(empty))
    return {"container_overrides": [{"name": container, "command": [fill * (size - base)]}]}


def _wire(overrides: dict[str, Any]) -> str:
    """What the client sends for `overrides` (compact, unescaped JSON)."""
    wire = serde.encode(serde.build_request("RunTask", m.TaskOverride, overrides))
    return json.dumps(wire, separators=(",", ":"), ensure_ascii=False)


# -- the model's constraints ------------------------------------------------------------------


def test_required_members_at_every_depth() -> None:
    volume = {"role_arn": ROLE, "tag_specifications": [{"tags": []}]}
    found = problems(
        "RunTask",
        task_definition="web",
        network_configuration={"awsvpc_configuration": {"security_groups": ["sg-1"]}},
        capacity_provider_strategy=[{"capacity_provider": "FARGATE"}, {"weight": 1}],
        volume_configurations=[{"name": "data", "managed_ebs_volume": volume}],
    )
    assert found == [
        ("capacity_provider_strategy[1].capacity_provider", "required member missing"),
        ("network_configuration.awsvpc_configuration.subnets", "required member missing"),
        (
            "volume_configurations[0].managed_ebs_volume.tag_specifications[0].resource_type",
            "required member missing",
        ),
    ]


def test_required_members_of_shared_structures_are_required_in_python_too() -> None:
    # CapacityProviderStrategyItem is also decoded from responses, yet a caller builds it: its
    # required member is a required keyword argument (mypy catches it), and a mapping without
    # it is reported with its path.
    field = attrs.fields_dict(m.CapacityProviderStrategyItem)["capacity_provider"]
    assert field.default is attrs.NOTHING
    assert paths("RunTask", task_definition="t", capacity_provider_strategy=[{"base": 1}]) == [
        "capacity_provider_strategy[0].capacity_provider"
    ]


def test_nested_limits_and_types_have_full_paths() -> None:
    # Mappings are type-checked while the model is built (serde), with the same paths...
    assert paths(
        "RunTask", task_definition="t", overrides={"container_overrides": [{"cpu": "1024"}]}
    ) == ["overrides.container_overrides[0].cpu"]
    # ...model instances the caller built are checked here, at any depth.
    overrides = m.TaskOverride(
        container_overrides=[
            m.ContainerOverride(name="web", cpu=256),
            m.ContainerOverride(name="side", cpu="1024", command=["run", 2]),  # type: ignore[arg-type, list-item]
        ]
    )
    found = problems(
        "RunTask",
        task_definition="t",
        overrides=overrides,
        capacity_provider_strategy=[{"capacity_provider": "cp", "weight": 1001, "base": -1}],
    )
    assert found == [
        ("capacity_provider_strategy[0].weight", "must be between 0 and 1000, got 1001"),
        ("capacity_provider_strategy[0].base", "must be between 0 and 100000, got -1"),
        ("overrides.container_overrides[1].command[1]", "expected a string, got int"),
        ("overrides.container_overrides[1].cpu", "expected an integer, got str"),
    ]


def test_mistyped_model_instances_are_reported_not_crashed_on() -> None:
    found = problems(
        "RunTask",
        task_definition="t",
        overrides=m.TaskOverride(container_overrides="web"),  # type: ignore[arg-type]
        tags=[m.Tag(key=7), {"key": "ok"}],  # type: ignore[arg-type]
    )
    assert ("overrides.container_overrides", "expected a list, got str") in found
    assert ("tags[0].key", "expected a string, got int") in found
    assert not any(path.startswith("tags[1]") for path, _ in found)


def test_every_problem_is_reported_at_once() -> None:
    found = paths(
        "RunTask",
        task_definition="web",
        count=0,
        started_by="n" * 129,
        capacity_provider_strategy=[{"weight": 5}],
        tags=[{"key": "aws:owner", "value": "x"}, *tags(50)],
        overrides=overrides_of(9000),
    )
    assert found == [
        "capacity_provider_strategy[0].capacity_provider",
        "count",
        "overrides",
        "started_by",
        "tags",
        "tags[0].key",
    ]


def test_number_ranges_and_finite_floats() -> None:
    base = {"daemon_name": "d", "daemon_task_definition_arn": "a", "capacity_provider_arns": []}
    for bad in (-0.5, 100.5, float("nan"), float("inf")):
        assert paths("CreateDaemon", **base, deployment_configuration={"drain_percent": bad}) == [
            "deployment_configuration.drain_percent"
        ]
    for ok in (0, 0.0, 12.5, 100):
        assert (
            problems("CreateDaemon", **base, deployment_configuration={"drain_percent": ok}) == []
        )
    assert "finite" in message(
        "CreateDaemon",
        "deployment_configuration.drain_percent",
        **base,
        deployment_configuration={"drain_percent": float("nan")},
    )


def test_enum_values_are_left_to_static_typing() -> None:
    assert problems("ListTasks", desired_status="SOMEDAY", launch_type="MARS") == []


@attrs.frozen(kw_only=True)
class Either:
    """Two members, for the exactly-one rule (every union of the ECS model has one member).

    A union: set exactly one member.
    """

    left: str | None = None
    right: int | None = None

    __shape__: ClassVar[ShapeSpec] = ShapeSpec(union=True)


def test_union_exactly_one_member() -> None:
    base = {"name": "gw", "infrastructure_role_arn": ROLE}
    assert problems("CreateGateway", **base, configuration={}) == [
        ("configuration", "exactly one of host_shared_alb must be set; none is set")
    ]
    set_one = paths("CreateGateway", **base, configuration={"host_shared_alb": {}})
    assert "configuration" not in set_one

    check = _validate._class_check(Either, False)
    assert check is not None

    def run(value: Either) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        check(value, "choice", out)
        return out

    assert run(Either(left="a")) == run(Either(right=1)) == []
    assert run(Either()) == [("choice", "exactly one of left, right must be set; none is set")]
    assert run(Either(left="a", right=1)) == [
        ("choice", "exactly one of left, right must be set; 2 are (left, right) set")
    ]


def test_unions_are_the_models() -> None:
    import botocore.session

    loader = botocore.session.get_session().get_component("data_loader")
    api = loader.load_service_model("ecs", "service-2")
    shapes = api["shapes"]
    model_unions = {name for name, shape in shapes.items() if shape.get("union")}
    sent, stack = set(), [op["input"]["shape"] for op in api["operations"].values()]
    while stack:  # every shape a request can contain
        name = stack.pop()
        if name not in sent:
            sent.add(name)
            shape = shapes[name]
            stack += [ref["shape"] for ref in shape.get("members", {}).values()]
            stack += [shape[k]["shape"] for k in ("member", "key", "value") if k in shape]
    unions = {name for name, shape in SHAPES.items() if shape.union}
    assert model_unions & sent == unions
    assert unions  # still checked at all


def test_constraints_name_real_members() -> None:
    for name, shape in SHAPES.items():
        fields = attrs.fields_dict(getattr(m, name))
        for member in (*shape.required, *shape.limits):
            assert member.removesuffix("[]") in fields, (name, member)


def test_every_model_pattern_translates() -> None:
    patterns = {limit[2] for shape in SHAPES.values() for limit in shape.limits.values()}
    patterns.discard(None)
    assert patterns
    for pattern in patterns:
        assert isinstance(pattern, str)
        assert _validate._Pattern.get(pattern) is not None, pattern


# -- patterns ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "é",
        "Ünïcödé",
        "日本語",
        "Ωμέγα",
        "٣٤",
        "½",
        "Ⅻ",
        "a b",
        "\u3000",
        "\xa0",
        "\u2028",
        "_.:/=+-@",
    ],
)
def test_tag_pattern_accepts_letters_numbers_separators(key: str) -> None:
    assert problems("TagResource", resource_arn="arn", tags=[{"key": key, "value": key}]) == []


@pytest.mark.parametrize(
    "key", ["\x00", "\x07", "a\tb", "\n", "\x85", "\u200b", "😀", "#", "a\x7fb", "\ue000", "\ud800"]
)
def test_tag_pattern_rejects_control_and_other_characters(key: str) -> None:
    found = problems("TagResource", resource_arn="arn", tags=[{"key": "ok", "value": key}])
    assert found == [("tags[0].value", found[0][1])]
    assert found[0][1].startswith(f"must match the pattern {TAG_PATTERN}")


def _tag_chars_ok(text: str) -> bool:
    return all(unicodedata.category(c)[0] in "LZN" or c in "_.:/=+-@" for c in text)


@given(st.text(st.characters(codec=None), max_size=30))
def test_translated_tag_pattern_agrees_with_unicode_categories(text: str) -> None:
    pattern = _validate._Pattern.get(TAG_PATTERN)
    assert pattern is not None
    assert pattern.fullmatch(text) == _tag_chars_ok(text)


@pytest.mark.parametrize(
    ("java", "accepts", "rejects"),
    [
        # Java's `.` matches anything but a line terminator
        ("a.c", ["abc", "aéc", "a\tc"], ["a\nc", "a\rc", "a\x85c", "a\u2028c", "a\u2029c", "ac"]),
        (r"\P{L}+", ["123 !", "\x00", "½"], ["é", "a", "1a"]),
        (r"[^\p{N}]*", ["abc", "é", ""], ["5", "½", "a٣"]),
        (r"\p{Lu}\p{Ll}+", ["Élan", "Ab"], ["élan", "AB"]),
        (r"\pL\p{IsN}", ["é1", "a٣"], ["1a"]),
        (r"\d+", ["0123"], ["٣", "１"]),  # ASCII digits only, as in Java
        (r"\w+", ["a_1"], ["é"]),
        (r"\p{Alpha}+\p{Punct}", ["abc!"], ["é!", "abc"]),
        ("(?<word>ab)+", ["abab"], ["aba"]),
        (r"\Q.*\E", [".*"], ["ab"]),
        (r"[a-zA-Z0-9\.\*\-]+", ["m5.large", "c6*", "r-7"], ["m5 large", "", "ü"]),
        (r"\x41\u0042", ["AB"], ["ab"]),
        ("(?i)abc", ["ABC", "abc"], ["ÀBC"]),
        (r"[\p{L}&&&]*", None, None),  # intersections: refused (see below)
    ],
)
def test_java_regex_translation(java: str, accepts: list[str] | None, rejects: Any) -> None:
    pattern = _validate._Pattern.get(java)
    if accepts is None:
        assert pattern is None
        return
    assert pattern is not None
    for text in accepts:
        assert pattern.fullmatch(text), (java, text)
    for text in rejects:
        assert not pattern.fullmatch(text), (java, text)


@pytest.mark.parametrize(
    "java", ["[a-z&&[^e]]", r"\p{InGreek}", "é", r"\u00e9", "[a[b]]", r"\x{41}", r"\R", "(?u)a"]
)
def test_untranslatable_patterns_are_refused(java: str) -> None:
    with pytest.raises(ValueError):
        _validate._translate(java)
    assert _validate._Pattern.get(java) is None


# -- documented limits the model lacks ------------------------------------------------------------


@pytest.mark.parametrize(("n", "ok"), [(0, False), (1, True), (100, True), (101, False)])
def test_describe_tasks_takes_1_to_100_tasks(n: int, ok: bool) -> None:
    found = problems("DescribeTasks", tasks=[f"t{i}" for i in range(n)])
    assert found == ([] if ok else [("tasks", f"must have between 1 and 100 items, got {n}")])


@pytest.mark.parametrize(("n", "ok"), [(0, False), (1, True), (10, True), (11, False)])
def test_start_task_takes_1_to_10_container_instances(n: int, ok: bool) -> None:
    instances = [f"ci{i}" for i in range(n)]
    found = paths("StartTask", task_definition="t", container_instances=instances)
    assert found == ([] if ok else ["container_instances"])


@pytest.mark.parametrize(("n", "ok"), [(-1, False), (0, False), (1, True), (10, True), (11, False)])
def test_run_task_count_is_1_to_10(n: int, ok: bool) -> None:
    assert paths("RunTask", task_definition="t", count=n) == ([] if ok else ["count"])


@pytest.mark.parametrize(("n", "ok"), [(0, False), (1, True), (100, True), (101, False)])
def test_list_tasks_max_results_is_1_to_100(n: int, ok: bool) -> None:
    assert paths("ListTasks", max_results=n) == ([] if ok else ["max_results"])


_LAUNCH: dict[str, dict[str, Any]] = {
    "StartTask": {"task_definition": "t", "container_instances": ["ci"]},
    "RunTask": {"task_definition": "t"},
    "ListTasks": {},
}


@pytest.mark.parametrize(
    ("operation", "started_by", "ok"),
    [
        ("StartTask", "s" * 36, True),
        ("StartTask", "s" * 37, False),
        # API_RunTask documents up to 128 characters; ListTasks documents no limit.
        ("RunTask", "s" * 128, True),
        ("RunTask", "s" * 129, False),
        ("ListTasks", "s" * 1000, True),
        *[(op, "ecs-svc/123_AB-c", True) for op in _LAUNCH],
        *[(op, "", True) for op in _LAUNCH],
        # The documented character set is not enforced by AWS: Step Functions starts tasks
        # with startedBy "AWS Step Functions", and "abc:def" is accepted and listed.
        *[(op, ok, True) for op in _LAUNCH for ok in ("AWS Step Functions", "a.b", "é", "a:b")],
    ],
)
def test_started_by(operation: str, started_by: str, ok: bool) -> None:
    found = paths(operation, **_LAUNCH[operation], started_by=started_by)
    assert found == ([] if ok else ["started_by"])


async def test_tasks_started_by_step_functions_can_be_listed(
    ecs: ECSClient, local: LocalECS
) -> None:
    by_sfn = set(local.seed_tasks(3, cluster="prod", started_by="AWS Step Functions"))
    local.seed_tasks(2, cluster="prod", started_by="abc:def")
    listed = await ecs.list_tasks(cluster="prod", started_by="AWS Step Functions")
    assert set(listed.task_arns) == by_sfn
    streamed = {t.task_arn async for t in ecs.iter_tasks("prod", started_by="AWS Step Functions")}
    assert streamed == by_sfn
    assert len((await ecs.list_tasks(cluster="prod", started_by="abc:def")).task_arns) == 2


_TAGGED: dict[str, dict[str, Any]] = {
    "TagResource": {"resource_arn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod"},
    "RunTask": {"task_definition": "t"},
    "StartTask": {"task_definition": "t", "container_instances": ["ci"]},
    "CreateCluster": {},
}


@pytest.mark.parametrize("operation", _TAGGED)
def test_tag_limits_in_every_request(operation: str) -> None:
    base = _TAGGED[operation]
    assert problems(operation, **base, tags=tags(50)) == []
    assert problems(operation, **base, tags=[{"key": "k" * 128, "value": "v" * 256}]) == []
    assert problems(operation, **base, tags=[{"key": "k", "value": ""}]) == []
    assert paths(operation, **base, tags=tags(51)) == ["tags"]
    bad = [
        {"key": "k" * 129},
        {"key": ""},
        {"key": "v", "value": "v" * 257},
        {"key": "aws:team"},
        {"key": "AWS:team"},
        {"key": "aWs:"},
    ]
    assert problems(operation, **base, tags=bad) == [
        ("tags[0].key", "must be between 1 and 128 characters long, got 129"),
        ("tags[1].key", "must be between 1 and 128 characters long, got 0"),
        ("tags[2].value", "must be between 0 and 256 characters long, got 257"),
        ("tags[3].key", "must not start with 'aws:' (reserved for AWS use)"),
        ("tags[4].key", "must not start with 'aws:' (reserved for AWS use)"),
        ("tags[5].key", "must not start with 'aws:' (reserved for AWS use)"),
    ]
    # Only keys: the prefix elsewhere, or in a value, is taken.
    fine = [{"key": "awsome"}, {"key": "x:aws:y"}, {"key": "aws"}, {"key": "k", "value": "aws:x"}]
    assert problems(operation, **base, tags=fine) == []


def test_tag_limits_apply_to_nested_tag_lists() -> None:
    volume = {
        "name": "data",
        "managed_ebs_volume": {
            "role_arn": ROLE,
            "tag_specifications": [
                {"resource_type": "volume", "tags": [{"key": "aws:x"}]},
                {"resource_type": "volume", "tags": tags(51)},
            ],
        },
    }
    prefix = "volume_configurations[0].managed_ebs_volume.tag_specifications"
    assert paths("RunTask", task_definition="t", volume_configurations=[volume]) == [
        f"{prefix}[0].tags[0].key",
        f"{prefix}[1].tags",
    ]


@pytest.mark.parametrize("operation", ["RunTask", "StartTask"])
def test_overrides_are_at_most_8192_characters_of_wire_json(operation: str) -> None:
    base = _LAUNCH[operation]
    assert len(_wire(overrides_of(8192))) == 8192
    assert problems(operation, **base, overrides=overrides_of(8192)) == []
    assert problems(operation, **base, overrides=overrides_of(8193)) == [
        ("overrides", "must be at most 8192 characters as JSON, got 8193")
    ]
    # Characters, as sent (UTF-8, unescaped): "é" counts one.
    assert problems(operation, **base, overrides=overrides_of(8192, fill="é")) == []


# -- what messages show ----------------------------------------------------------------------------


def test_sensitive_values_are_not_echoed() -> None:
    secret = "hunter2-" * 1500
    env = [{"name": "DB_PASSWORD", "value": secret}]
    found = problems(
        "RunTask",
        task_definition="t",
        overrides={"container_overrides": [{"name": "web", "environment": env}]},
    )
    assert [path for path, _ in found] == ["overrides"]
    assert "hunter2" not in str(found)
    instance = m.KeyValuePair(name="DB_PASSWORD", value=12345)  # type: ignore[arg-type]
    overrides = m.TaskOverride(container_overrides=[m.ContainerOverride(environment=[instance])])
    found = problems("RunTask", task_definition="t", overrides=overrides)
    assert found == [
        ("overrides.container_overrides[0].environment[0].value", "expected a string, got int")
    ]


_SECRET_LIMIT = (1, 8, "[a-z]*", False)


@attrs.frozen(kw_only=True)
class Inner:
    code: str | None = None

    __shape__: ClassVar[ShapeSpec] = ShapeSpec(limits={"code": _SECRET_LIMIT})


@attrs.frozen(kw_only=True)
class Secretive:
    token: str | None = attrs.field(default=None, repr=False)
    pin: int | None = attrs.field(default=None, repr=False)
    nested: list[Inner] | None = attrs.field(default=None, repr=False)
    plain: str | None = None

    __shape__: ClassVar[ShapeSpec] = ShapeSpec(
        limits={"token": _SECRET_LIMIT, "plain": _SECRET_LIMIT, "pin": (0, 9, None, False)}
    )


def test_sensitive_members_and_what_is_under_them_are_never_shown() -> None:
    check = _validate._build_class_check(Secretive, False, True, {})
    assert check is not None
    out: list[tuple[str, str]] = []
    value = Secretive(token="Hunter2!", pin=1234, nested=[Inner(code="S3CRET")], plain="ab!")
    check(value, "", out)
    assert [path for path, _ in out] == ["token", "pin", "nested[0].code", "plain"]
    text = str(out)
    assert "Hunter2" not in text and "1234" not in text and "S3CRET" not in text
    assert ("plain", "must match the pattern [a-z]*, got 'ab!'") in out


def test_long_values_are_not_echoed() -> None:
    value = "é" * 200
    text = message("RunTask", "started_by", task_definition="t", started_by=value)
    assert value[:20] not in text
    assert "got 200" in text
    exc = ValidationError("RunTask", problems("RunTask", task_definition="t", started_by=value))
    assert value[:20] not in str(exc)


# -- cost ---------------------------------------------------------------------------------------


def test_checkers_are_built_once() -> None:
    list_tasks = serde.build_request("ListTasks", m.ListTasksRequest, {"started_by": "x"})
    _validate.validate("ListTasks", list_tasks)
    first = _validate._BY_OPERATION_CACHE["ListTasks"]
    _validate.validate("ListTasks", list_tasks)
    assert _validate._BY_OPERATION_CACHE["ListTasks"] is first
    assert _validate._class_check(m.Tag, False) is _validate._class_check(m.Tag, False)


def test_hot_requests_are_checked_by_one_cached_checker() -> None:
    # (How fast that is, a microsecond or two, is measured by the benchmarks, not asserted.)
    arns = [f"arn:aws:ecs:us-east-1:123456789012:task/prod/{i:032x}" for i in range(100)]
    describe = serde.build_request("DescribeTasks", m.DescribeTasksRequest, {"tasks": arns})
    listing = serde.build_request(
        "ListTasks", m.ListTasksRequest, {"cluster": "prod", "started_by": "ecs-svc/1234"}
    )
    for _ in range(3):  # the checker built on the first call keeps checking on later ones
        _validate.validate("DescribeTasks", describe)
        _validate.validate("ListTasks", listing)
        too_many = serde.build_request(
            "DescribeTasks", m.DescribeTasksRequest, {"tasks": [*arns, "one-more"]}
        )
        with pytest.raises(ValidationError) as caught:
            _validate.validate("DescribeTasks", too_many)
        assert caught.value.problems == [("tasks", "must have between 1 and 100 items, got 101")]


# -- generated invalid requests ------------------------------------------------------------------


class Case(NamedTuple):
    """An invalid call: what is wrong with it, the client method, its keyword arguments, and
    the paths that must be reported."""

    kind: str
    method: str
    params: dict[str, Any]
    paths: tuple[str, ...]


OPERATIONS = {
    "describe_tasks": "DescribeTasks",
    "list_tasks": "ListTasks",
    "start_task": "StartTask",
    "run_task": "RunTask",
    "tag_resource": "TagResource",
    "create_cluster": "CreateCluster",
    "create_gateway": "CreateGateway",
}
BASES: dict[str, dict[str, Any]] = {
    "describe_tasks": {"cluster": "prod", "tasks": ["t1"]},
    "list_tasks": {"cluster": "prod"},
    "start_task": {"cluster": "prod", "task_definition": "web", "container_instances": ["ci-1"]},
    "run_task": {"cluster": "prod", "task_definition": "web"},
    "tag_resource": {"resource_arn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod"},
    "create_cluster": {"cluster_name": "prod"},
    "create_gateway": {"name": "gw", "infrastructure_role_arn": ROLE},
}
TAGGED = ["run_task", "start_task", "tag_resource", "create_cluster"]
STARTED_BY_OK = string.ascii_letters + string.digits + "_/-"

ids = st.text(string.ascii_lowercase + string.digits + "-", min_size=1, max_size=12)
tag_text = st.text(
    st.characters(categories=["L", "N", "Zs"], codec="utf-8") | st.sampled_from("_.:/=+-@"),
    max_size=12,
)
good_tag = st.fixed_dictionaries(
    {"key": tag_text.filter(lambda k: k and not k.lower().startswith("aws:"))},
    optional={"value": tag_text},
)
aws_prefix = st.tuples(*(st.sampled_from([c, c.upper()]) for c in "aws")).map("".join)
bad_tag_char = st.characters(categories=["Cc", "Cf", "So", "Co", "Sm"], exclude_characters="+=")
not_int = st.one_of(st.text(max_size=5), st.floats(), st.booleans(), st.lists(st.integers()))
Draw = Any  # hypothesis' draw function


def _case(kind: str, method: str, paths: str | tuple[str, ...], **params: Any) -> Case:
    paths = (paths,) if isinstance(paths, str) else paths
    return Case(kind, method, {**BASES[method], **params}, paths)


def _one_bad_tag(draw: Draw, kind: str, member: str, bad: str) -> Case:
    """Up to 49 good tags with one bad one among them, for a request that takes tags."""
    good = draw(st.lists(good_tag, max_size=49))
    at = draw(st.integers(0, len(good)))
    tag = {**draw(good_tag), member: bad}
    method = draw(st.sampled_from(TAGGED))
    return _case(kind, method, f"tags[{at}].{member}", tags=[*good[:at], tag, *good[at:]])


def _too_many_tasks(draw: Draw) -> Case:
    tasks = draw(st.lists(ids, min_size=101, max_size=300) | st.just([]))
    return _case("tasks: not 1-100", "describe_tasks", "tasks", tasks=tasks)


def _max_results(draw: Draw) -> Case:
    n = draw(st.integers(max_value=0) | st.integers(min_value=101))
    return _case("max_results: not 1-100", "list_tasks", "max_results", max_results=n)


def _count(draw: Draw) -> Case:
    n = draw(st.integers(max_value=0) | st.integers(min_value=11))
    return _case("count: not 1-10", "run_task", "count", count=n)


def _container_instances(draw: Draw) -> Case:
    cis = draw(st.lists(ids, min_size=11, max_size=40) | st.just([]))
    kind = "container_instances: not 1-10"
    return _case(kind, "start_task", "container_instances", container_instances=cis)


def _union(draw: Draw) -> Case:
    name = draw(ids)
    return _case("union: none set", "create_gateway", "configuration", name=name, configuration={})


def _too_many_tags(draw: Draw) -> Case:
    method = draw(st.sampled_from(TAGGED))
    many = draw(st.lists(good_tag, min_size=51, max_size=80))
    return _case("tags: over 50", method, "tags", tags=many)


def _long_key(draw: Draw) -> Case:
    key = draw(st.text(string.ascii_letters, min_size=129, max_size=300))
    return _one_bad_tag(draw, "tag key: over 128", "key", key)


def _empty_key(draw: Draw) -> Case:
    return _one_bad_tag(draw, "tag key: empty", "key", "")


def _aws_key(draw: Draw) -> Case:
    key = draw(aws_prefix) + ":" + draw(tag_text)
    return _one_bad_tag(draw, "tag key: aws:", "key", key)


def _long_value(draw: Draw) -> Case:
    value = draw(st.text(string.ascii_letters, min_size=257, max_size=500))
    return _one_bad_tag(draw, "tag value: over 256", "value", value)


def _tag_character(draw: Draw) -> Case:
    member = draw(st.sampled_from(["key", "value"]))
    text = draw(tag_text) + draw(bad_tag_char) + draw(tag_text)
    return _one_bad_tag(draw, "tag: character", member, text)


def _long_started_by(draw: Draw) -> Case:
    method = draw(st.sampled_from(["run_task", "start_task"]))
    longest = 36 if method == "start_task" else 128
    value = draw(st.text(STARTED_BY_OK, min_size=longest + 1, max_size=300))
    return _case("started_by: too long", method, "started_by", started_by=value)


def _huge_overrides(draw: Draw) -> Case:
    method = draw(st.sampled_from(["run_task", "start_task"]))
    size = draw(st.integers(8193, 40_000))
    fill = draw(st.sampled_from(["x", "é", "日"]))
    if draw(st.booleans()):
        overrides = overrides_of(size, fill=fill)
    else:  # many environment variables (sensitive: the size is reported, not the values)
        env = [{"name": f"V{i}", "value": fill * 100} for i in range(size // 100)]
        overrides = {"container_overrides": [{"name": "web", "environment": env}]}
    return _case("overrides: over 8192", method, "overrides", overrides=overrides)


def _missing_nested(draw: Draw) -> Case:
    """A required member left out of a structure given as a mapping."""
    kind = "nested: required missing"
    which = draw(st.sampled_from(["subnets", "provider", "env_file", "resource", "volume"]))
    if which == "subnets":
        vpc = {"security_groups": draw(st.lists(ids, max_size=3))}
        path = "network_configuration.awsvpc_configuration.subnets"
        return _case(kind, "run_task", path, network_configuration={"awsvpc_configuration": vpc})
    if which == "provider":
        good = draw(st.lists(st.builds(lambda n: {"capacity_provider": n}, ids), max_size=3))
        bad = {"weight": draw(st.integers(0, 1000))}
        path = f"capacity_provider_strategy[{len(good)}].capacity_provider"
        return _case(kind, "run_task", path, capacity_provider_strategy=[*good, bad])
    if which == "volume":
        volume = {"managed_ebs_volume": {"role_arn": ROLE}}
        path = "volume_configurations[0].name"
        return _case(kind, "run_task", path, volume_configurations=[volume])
    method = draw(st.sampled_from(["run_task", "start_task"]))
    if which == "env_file":
        override = {"name": "web", "environment_files": [{"value": "arn:aws:s3:::b/env"}]}
        path = "overrides.container_overrides[0].environment_files[0].type"
    else:
        override = {"name": "web", "resource_requirements": [{"type": "GPU"}]}
        path = "overrides.container_overrides[0].resource_requirements[0].value"
    return _case(kind, method, path, overrides={"container_overrides": [override]})


def _wrong_type(draw: Draw) -> Case:
    kind = "type: wrong"
    which = draw(st.sampled_from(["tasks", "max_results", "count", "started_by", "tag"]))
    if which == "tasks":
        good = draw(st.lists(ids, max_size=5))
        tasks = [*good, draw(st.integers())]
        return _case(kind, "describe_tasks", f"tasks[{len(good)}]", tasks=tasks)
    if which == "max_results":
        return _case(kind, "list_tasks", "max_results", max_results=draw(not_int))
    if which == "count":
        return _case(kind, "run_task", "count", count=draw(not_int))
    if which == "started_by":
        method = draw(st.sampled_from(["list_tasks", "run_task", "start_task"]))
        return _case(kind, method, "started_by", started_by=draw(st.integers() | st.booleans()))
    method = draw(st.sampled_from(TAGGED))
    return _case(kind, method, "tags[0].key", tags=[{"key": draw(st.integers())}])


def _unknown_member(draw: Draw) -> Case:
    method = draw(st.sampled_from(TAGGED))
    typo = draw(st.sampled_from(["valu", "Value", "val"]))
    tag = {"key": "team", typo: "core"}
    return _case("member: unknown", method, f"tags[0].{typo}", tags=[tag])


def _several(draw: Draw) -> Case:
    """Several problems in one request: every one is reported."""
    count = draw(st.integers(11, 100))
    started_by = draw(st.text(STARTED_BY_OK, min_size=129, max_size=200))
    key = draw(aws_prefix) + ":x"
    return _case(
        "several at once",
        "run_task",
        ("count", "started_by", "tags[0].key", "overrides"),
        count=count,
        started_by=started_by,
        tags=[{"key": key}],
        overrides=overrides_of(draw(st.integers(8193, 9000))),
    )


KINDS = [
    _too_many_tasks,
    _max_results,
    _count,
    _container_instances,
    _union,
    _too_many_tags,
    _long_key,
    _empty_key,
    _aws_key,
    _long_value,
    _tag_character,
    _long_started_by,
    _huge_overrides,
    _missing_nested,
    _wrong_type,
    _unknown_member,
    _several,
]


@st.composite
def invalid_requests(draw: Draw, kinds: tuple[Callable[[Draw], Case], ...] = tuple(KINDS)) -> Case:
    make = draw(st.sampled_from(kinds))
    case: Case = make(draw)
    return case


def _refused(case: Case) -> ValidationError:
    operation = OPERATIONS[case.method]
    with pytest.raises(ValidationError) as caught:
        _validate.validate(
            operation,
            serde.build_request(operation, getattr(m, f"{operation}Request"), case.params),
        )
    return caught.value


def _reported(case: Case, error: ValidationError) -> bool:
    reported = {path for path, _ in error.problems}
    return error.operation == OPERATIONS[case.method] and set(case.paths) <= reported


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invalid_requests())
def test_generated_invalid_requests_are_refused(case: Case) -> None:
    error = _refused(case)
    assert _reported(case, error), error


def generate_invalid(per_kind: int) -> list[Case]:
    """`per_kind` invalid requests of every kind, the same ones on every run (hypothesis,
    derandomized, one run per kind so that each kind gets its share)."""
    cases: list[Case] = []
    for kind in KINDS:

        @settings(
            max_examples=per_kind,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(invalid_requests(kinds=(kind,)))
        def collect(case: Case) -> None:
            cases.append(case)

        collect()
    return cases


@pytest.fixture
async def local() -> AsyncIterator[LocalECS]:
    async with LocalECS(seed=11) as server:
        yield server


@pytest.fixture
async def ecs(local: LocalECS) -> AsyncIterator[ECSClient]:
    async with client_for(local) as c:
        yield c


async def test_invalid_requests_never_reach_the_server(ecs: ECSClient, local: LocalECS) -> None:
    cases = generate_invalid(per_kind=25)
    refused: Counter[str] = Counter()
    for case in cases:
        with pytest.raises(ValidationError) as caught:
            await getattr(ecs, case.method)(**case.params)
        assert _reported(case, caught.value), caught.value
        refused[case.kind] += 1
    sent = sum(local.request_count.values())
    print(f"\ninvalid requests generated: {len(cases)}, refused: {refused.total()}, sent: {sent}")
    print("by kind:", ", ".join(f"{kind} {n}" for kind, n in sorted(refused.items())))
    print("by operation:", dict(Counter(OPERATIONS[case.method] for case in cases)))
    assert sent == 0
    assert refused.total() == len(cases) >= 300
    assert len(refused) == len(KINDS)  # every kind was generated
    assert {case.method for case in cases} == set(OPERATIONS)
    # The counter does count what arrives.
    await ecs.list_clusters()
    assert sum(local.request_count.values()) == 1


async def _instances(ecs: ECSClient, cluster: str, n: int) -> list[str]:
    arns = []
    for i in range(n):
        document = json.dumps({"instanceId": f"i-{i:017x}", "availabilityZone": "us-east-1a"})
        out = await ecs.register_container_instance(
            cluster=cluster, instance_identity_document=document
        )
        assert out.container_instance is not None
        assert out.container_instance.container_instance_arn is not None
        arns.append(out.container_instance.container_instance_arn)
    return arns


async def test_boundary_requests_go_through(ecs: ECSClient, local: LocalECS) -> None:
    await ecs.create_cluster(cluster_name="prod", tags=tags(50))
    instances = await _instances(ecs, "prod", 10)
    await ecs.register_task_definition(
        family="web", container_definitions=[{"name": "web", "image": "nginx", "memory": 128}]
    )
    started_by = "b" * 36
    arns = local.seed_tasks(100, cluster="prod", started_by=started_by)

    listed = await ecs.list_tasks(cluster="prod", started_by=started_by, max_results=100)
    assert sorted(listed.task_arns) == sorted(arns)
    assert len((await ecs.list_tasks(cluster="prod", max_results=1)).task_arns) == 1
    described = await ecs.describe_tasks(cluster="prod", tasks=arns)
    assert len(described.tasks) == 100 and not described.failures

    widest = [{"key": f"{i:03d}" + "é" * 125, "value": "v" * 255 + " "} for i in range(50)]
    run = await ecs.run_task(
        cluster="prod",
        task_definition="web",
        count=10,
        started_by="r" * 128,
        tags=widest,
        overrides=overrides_of(8192),
    )
    assert len(run.tasks) == 10
    started = await ecs.start_task(
        cluster="prod",
        task_definition="web",
        container_instances=instances,
        started_by=started_by,
        tags=widest,
        overrides=overrides_of(8192, fill="é"),
    )
    assert len(started.tasks) == 10
    assert local.request_count["RunTask"] == local.request_count["StartTask"] == 1
    assert local.request_count["DescribeTasks"] == 1 and local.request_count["ListTasks"] == 2


# -- every kind of member, checked where a caller built the model ---------------------------------


@attrs.frozen(kw_only=True)
class Leaf:
    code: str | None = None


@attrs.frozen(kw_only=True)
class Kinds:
    """One member of every kind `_validate` knows, for the checks of caller-built instances."""

    text: str | None = None
    choice: Literal["A", "B"] | None = None
    whole: int | None = None
    real: float | None = None
    flag: bool | None = None
    when: datetime | None = None
    labels: dict[str, str] | None = None
    names: list[str] | None = None
    nodes: dict[str, Leaf] | None = None
    document: Any = None


def check_of(cls: type[Any], *, secret: bool = False) -> Callable[[Any], list[tuple[str, str]]]:
    """What `_validate` reports for an instance of `cls` found at `at`."""
    check = _validate._class_check(cls, secret)
    assert check is not None

    def run(value: Any) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        check(value, "at", out)
        return out

    return run


def test_every_member_of_a_built_instance_is_type_checked() -> None:
    run = check_of(Kinds)
    fine = Kinds(
        text="t",
        choice="A",
        whole=1,
        real=1,  # an int is a number
        flag=False,
        when=datetime(2024, 1, 1),
        labels={"k": "v"},
        names=("a", "b"),  # type: ignore[arg-type]  # a tuple is a list on the wire
        nodes={"n": Leaf(code="c")},
        document={"free": ["form", 1]},
    )
    assert run(fine) == []
    assert run(Kinds()) == []
    wrong = Kinds(
        text=1,  # type: ignore[arg-type]
        choice=2,  # type: ignore[arg-type]
        whole=True,
        real="1.5",  # type: ignore[arg-type]
        flag="yes",  # type: ignore[arg-type]
        when="2024-01-01",  # type: ignore[arg-type]
        labels=[("k", "v")],  # type: ignore[arg-type]
        names="ab",  # type: ignore[arg-type]
        nodes={"n": "c"},  # type: ignore[dict-item]
        document=object(),
    )
    assert run(wrong) == [
        ("at.text", "expected a string, got int"),
        ("at.choice", "expected a string, got int"),
        ("at.whole", "expected an integer, got bool"),
        ("at.real", "expected a number, got str"),
        ("at.flag", "expected a boolean, got str"),
        ("at.when", "expected a datetime, got str"),
        ("at.labels", "expected a mapping, got list"),
        ("at.names", "expected a list, got str"),
        ("at.nodes['n']", "expected Leaf, got str"),
    ]
    assert run(Kinds(real=True, whole=1.0)) == [  # type: ignore[arg-type]
        ("at.whole", "expected an integer, got float"),
        ("at.real", "expected a number, got bool"),
    ]


def test_map_values_and_list_items_are_checked_with_their_keys() -> None:
    run = check_of(Kinds)
    value = Kinds(
        labels={"ok": "v", "bad": 3, "gone": None},  # type: ignore[dict-item]
        names=["a", None, 4],  # type: ignore[list-item]
        nodes={"x": Leaf(code=5), "y": None},  # type: ignore[arg-type, dict-item]
    )
    assert run(value) == [
        ("at.labels['bad']", "expected a string, got int"),
        ("at.labels['gone']", "must not be None"),
        ("at.names[1]", "must not be None"),
        ("at.names[2]", "expected a string, got int"),
        ("at.nodes['x'].code", "expected a string, got int"),
        ("at.nodes['y']", "must not be None"),
    ]


def test_keys_of_a_sensitive_map_are_not_shown() -> None:
    run = check_of(Kinds, secret=True)
    value = Kinds(labels={"DB_PASSWORD": 1, "API_KEY": None}, whole=1.5)  # type: ignore[dict-item, arg-type]
    assert run(value) == [
        ("at.whole", "expected an integer, got float"),
        ("at.labels[<key 0>]", "expected a string, got int"),
        ("at.labels[<key 1>]", "must not be None"),
    ]


def test_a_mapping_subclass_and_a_model_subclass_are_accepted() -> None:
    class Labels(dict[str, str]):
        pass

    class Special(Leaf):
        pass

    run = check_of(Kinds)
    assert run(Kinds(labels=Labels(k="v"), nodes={"n": Special(code="c")})) == []


def test_a_nested_model_of_the_wrong_class_is_reported() -> None:
    overrides = m.TaskOverride(container_overrides=[m.KeyValuePair(name="x")])  # type: ignore[list-item]
    assert problems("RunTask", task_definition="t", overrides=overrides) == [
        ("overrides.container_overrides[0]", "expected ContainerOverride, got KeyValuePair")
    ]
    # Nothing else is said about it: the rule on overrides, which cannot encode it, is quiet.
    overrides = m.TaskOverride(container_overrides=[object()])  # type: ignore[list-item]
    assert problems("RunTask", task_definition="t", overrides=overrides) == [
        ("overrides.container_overrides[0]", "expected ContainerOverride, got object")
    ]


def test_real_model_members_of_every_kind_are_checked() -> None:
    breaker = m.DeploymentCircuitBreaker(enable="yes", rollback=True)  # type: ignore[arg-type]
    requirement = m.ResourceRequirement(value="1", type=1)  # type: ignore[arg-type]
    container = m.ContainerDefinition(
        name="web",
        docker_labels={"team": 7},  # type: ignore[dict-item]
        resource_requirements=[requirement],
        log_configuration=m.LogConfiguration(log_driver="awslogs", options={"a": "b", "c": None}),  # type: ignore[dict-item]
    )
    assert problems(
        "CreateService",
        service_name="s",
        deployment_configuration=m.DeploymentConfiguration(deployment_circuit_breaker=breaker),
    ) == [
        (
            "deployment_configuration.deployment_circuit_breaker.enable",
            "expected a boolean, got str",
        )
    ]
    assert problems("RegisterTaskDefinition", family="f", container_definitions=[container]) == [
        ("container_definitions[0].docker_labels['team']", "expected a string, got int"),
        ("container_definitions[0].log_configuration.options['c']", "must not be None"),
        ("container_definitions[0].resource_requirements[0].type", "expected a string, got int"),
    ]


@attrs.frozen(kw_only=True)
class Bounded:
    lower: str | None = None
    upper: str | None = None
    both: str | None = None
    items: list[str] | None = None
    entries: dict[str, str] | None = None
    count: int | None = None
    ratio: float | None = None
    secret_ratio: float | None = attrs.field(default=None, repr=False)
    code: str | None = None


BOUNDS: dict[str, Any] = {
    "lower": (3, None, None, False),
    "upper": (None, 4, None, False),
    "both": (2, 5, None, False),
    "items": (1, 2, None, False),
    "entries": (None, 1, None, False),
    "count": (None, 9, None, False),
    "ratio": (0.5, 2.5, None, False),
    "secret_ratio": (0.5, None, None, False),
    "code": (None, None, "[a-z]+", False),
}


def test_each_kind_of_bound_is_stated_in_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Bounded, "__shape__", ShapeSpec(limits=BOUNDS), raising=False)
    run = check_of(Bounded)
    fits = Bounded(
        lower="abc",
        upper="abcd",
        both="ab",
        items=["a", "b"],
        entries={"k": "v"},
        count=9,
        ratio=2.5,
        secret_ratio=0.5,
        code="ok",
    )
    assert run(fits) == []
    assert run(Bounded(both="abcde", items=["a"], entries={}, count=-5, ratio=0.5)) == []
    wrong = Bounded(
        lower="ab",
        upper="abcde",
        both="a",
        items=[],
        entries={"a": "1", "b": "2"},
        count=10,
        ratio=2.51,
        secret_ratio=0.25,
        code="A1",
    )
    assert run(wrong) == [
        ("at.lower", "must be at least 3 characters long, got 2"),
        ("at.upper", "must be at most 4 characters long, got 5"),
        ("at.both", "must be between 2 and 5 characters long, got 1"),
        ("at.items", "must have between 1 and 2 items, got 0"),
        ("at.entries", "must have at most 1 entries, got 2"),
        ("at.count", "must be at most 9, got 10"),
        ("at.ratio", "must be between 0.5 and 2.5, got 2.51"),
        ("at.secret_ratio", "must be at least 0.5 (the value is sensitive and not shown)"),
        ("at.code", "must match the pattern [a-z]+, got 'A1'"),
    ]
    assert run(Bounded(both="abcdef", items=["a", "b", "c"], ratio=0.49)) == [
        ("at.both", "must be between 2 and 5 characters long, got 6"),
        ("at.items", "must have between 1 and 2 items, got 3"),
        ("at.ratio", "must be between 0.5 and 2.5, got 0.49"),
    ]
    assert run(Bounded(ratio=float("-inf"), secret_ratio=float("nan"))) == [
        ("at.ratio", "must be a finite number, got -inf"),
        ("at.secret_ratio", "must be a finite number (the value is sensitive and not shown)"),
    ]


@attrs.frozen(kw_only=True)
class Merged:
    both: str | None = None


@attrs.frozen(kw_only=True)
class Untranslated:
    code: str | None = None
    short: str | None = None


@attrs.frozen(kw_only=True)
class Shouty:
    code: str | None = None
    both: str | None = None


@attrs.frozen(kw_only=True)
class Short:
    code: str | None = None


def test_limits_from_the_model_and_the_documentation_are_merged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The tightest bounds of both, and each distinct pattern once.
    limits = {"both": (2, 8, "[a-z]*", False)}
    monkeypatch.setattr(Merged, "__shape__", ShapeSpec(limits=limits), raising=False)
    monkeypatch.setitem(
        _validate._BY_CLASS,
        "Merged",
        {"both": ((1, 5, "[a-z]*", False), (3, None, "[a-c]*", False))},
    )
    run = check_of(Merged)
    assert run(Merged(both="abc")) == []
    assert run(Merged(both="abcabc")) == [
        ("at.both", "must be between 3 and 5 characters long, got 6")
    ]
    assert run(Merged(both="ab")) == [("at.both", "must be between 3 and 5 characters long, got 2")]
    assert run(Merged(both="abd")) == [("at.both", "must match the pattern [a-c]*, got 'abd'")]
    assert run(Merged(both="A")) == [
        ("at.both", "must be between 3 and 5 characters long, got 1"),
        ("at.both", "must match the pattern [a-z]*, got 'A'"),
        ("at.both", "must match the pattern [a-c]*, got 'A'"),
    ]


def test_a_pattern_that_cannot_be_translated_is_left_to_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    greek = r"\p{InGreek}+"
    limits = {"code": (None, None, greek, False), "short": (None, 2, greek, False)}
    monkeypatch.setattr(Untranslated, "__shape__", ShapeSpec(limits=limits), raising=False)
    run = check_of(Untranslated)
    assert run(Untranslated(code="anything", short="ab")) == []
    assert run(Untranslated(code=1, short="abc")) == [  # type: ignore[arg-type]
        ("at.code", "expected a string, got int"),
        ("at.short", "must be at most 2 characters long, got 3"),
    ]


def test_rules_that_fail_on_a_malformed_value_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    def upper_only(value: Any) -> str | None:
        return None if value.isupper() else "must be upper case"

    rules = {"code": (upper_only,), "both": ((1, 3, None, False), upper_only)}
    monkeypatch.setitem(_validate._BY_CLASS, "Shouty", rules)
    run = check_of(Shouty)
    assert run(Shouty(code="OK", both="OK")) == []
    assert run(Shouty(code="no")) == [("at.code", "must be upper case")]
    # With no type check before it, a rule that raises on a mistyped value reports that...
    found: list[tuple[str, str]] = []
    check = _validate._build_class_check(Shouty, False, False, {})
    assert check is not None
    check(Shouty(code=5), "x", found)  # type: ignore[arg-type]
    assert found == [("x.code", "is malformed (AttributeError)")]
    # ...and after one, says nothing more; each rule's finding follows the limits' findings.
    assert run(Shouty(both=5)) == [("at.both", "expected a string, got int")]  # type: ignore[arg-type]
    assert run(Shouty(both="abcd")) == [
        ("at.both", "must be between 1 and 3 characters long, got 4"),
        ("at.both", "must be upper case"),
    ]


def test_limits_on_each_item_of_a_list() -> None:
    found = problems("UntagResource", resource_arn="arn", tag_keys=["team", "", "k" * 129, "a#b"])
    assert found == [
        ("tag_keys[1]", "must be between 1 and 128 characters long, got 0"),
        ("tag_keys[2]", "must be between 1 and 128 characters long, got 129"),
        ("tag_keys[3]", f"must match the pattern {TAG_PATTERN}, got 'a#b'"),
    ]
    assert problems("UntagResource", resource_arn="arn", tag_keys=["team", "a b"]) == []


def test_required_members_of_the_request_itself() -> None:
    request = m.UntagResourceRequest(resource_arn=None, tag_keys=None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as caught:
        _validate.validate("UntagResource", request)
    assert caught.value.problems == [
        ("resource_arn", "required member missing"),
        ("tag_keys", "required member missing"),
    ]


def test_values_are_shown_up_to_40_characters() -> None:
    def pattern_message(value: str) -> str:
        return message(
            "TagResource", "tags[0].value", resource_arn="arn", tags=[{"key": "k", "value": value}]
        )

    shown = "#" * 38  # its repr is 40 characters
    assert pattern_message(shown) == f"must match the pattern {TAG_PATTERN}, got '{shown}'"
    assert pattern_message("#" * 39) == (
        f"must match the pattern {TAG_PATTERN} (a value of 39 characters, not shown)"
    )
    # Only strings say how long they were.
    assert paths("ListTasks", max_results=10**40) == ["max_results"]
    assert message("ListTasks", "max_results", max_results=10**39) == (
        f"must be between 1 and 100, got {10**39}"
    )
    assert message("ListTasks", "max_results", max_results=10**40) == "must be between 1 and 100"


@attrs.frozen(kw_only=True)
class Holder:
    children: list[Short] | None = None


def test_request_checkers_follow_the_class_given(monkeypatch: pytest.MonkeyPatch) -> None:
    # One checker per operation, rebuilt if a request of another class comes under its name.
    limits = {"code": (None, 2, None, False)}
    monkeypatch.setattr(Short, "__shape__", ShapeSpec(limits=limits), raising=False)
    _validate.validate("Nodes", Holder(children=[Short(code="a")]))
    with pytest.raises(ValidationError) as caught:
        _validate.validate("Nodes", Holder(children=[Short(code=1)]))  # type: ignore[arg-type]
    assert caught.value.operation == "Nodes"
    assert caught.value.problems == [("children[0].code", "expected a string, got int")]
    with pytest.raises(ValidationError) as caught:
        _validate.validate("Nodes", Short(code="abc"))
    assert caught.value.problems == [("code", "must be at most 2 characters long, got 3")]
    _validate.validate("Nodes", "not a model")
    _validate.validate("Nodes", Short(code="ab"))


@pytest.mark.parametrize(
    ("java", "accepts", "rejects"),
    [
        (r"\p{gc=Lu}\p{general_category=Nd}", ["É٣", "A1"], ["é1", "A½"]),
        (r"\p{LC}\p{L&}", ["aB", "ǅé"], ["ʰa", "1a"]),  # cased letters only: no Lm
        (r"\p{Lower}\p{Upper}\p{Digit}\p{XDigit}", ["aZ0f"], ["éZ0f", "aZ0g"]),
        (r"\p{Cc}", ["\x00", "\x85", "\x7f"], ["a", "\u200b"]),
        (r"\P{Cc}", ["a", "\u200b", "é"], ["\x00", "\x85"]),
        (r"\P{Lu}", ["a", "1", "é", "\x85"], ["A", "É"]),
        (r"[\p{Lu}0-9]+", ["É9A"], ["é"]),
        (r"[^\p{Lu}]", ["a"], ["A"]),
        (r"[.]", ["."], ["a"]),
        (r"a\zb?", ["a"], ["ab\n"]),
        (r"\e\t", ["\x1b\t"], ["e\t"]),
        (r"\Q[a]", ["[a]"], ["a"]),  # \Q without \E quotes the rest
        (r"(?:ab)+(?=c)c", ["ababc"], ["abc "]),
        (r"a(?!b).", ["ac"], ["ab"]),
        (r".(?<=b)c", ["bc"], ["ac"]),
        (r".(?<!b)c", ["ac"], ["bc"]),
        (r"(?>a+)b", ["aab"], ["aa"]),
        (r"(?i:a)b", ["Ab"], ["AB"]),
        (r"(?i)(?-i:a)b", ["aB"], ["AB"]),
        ("(?<n>a)(?P=n)", None, None),  # Java has no (?P=...)
        (r"\s", [" ", "\t", "\x0b"], ["\x1c", "\x1f", "\xa0"]),  # ASCII whitespace only
        (r"\p{N}", ["5", "½"], ["X", "a"]),
        (r"\Qa.\E\Q*\E", ["a.*"], ["ab*", "a."]),
        (r"a\Q\Eb", ["ab"], ["a\\Eb"]),
        (r"\Q.\Eb", [".b"], [".", "ab"]),
        (r"\x4A\u004b", ["JK"], ["jk"]),
        (r"a\x7f?", ["a", "a\x7f"], ["b"]),
        (r"a[^b]", ["ac", "a^"], ["ab"]),
        ("a(?<word>b)", ["ab"], ["a"]),
        ("(?:a)(b)", ["ab"], ["a"]),
    ],
)
def test_more_of_java_regex(java: str, accepts: list[str] | None, rejects: Any) -> None:
    test_java_regex_translation(java, accepts, rejects)


@pytest.mark.parametrize(
    ("java", "why"),
    [
        ("a\\", "a trailing backslash"),
        ("aé", "a non-ASCII character in the pattern"),
        (r"\X", r"unsupported escape \X"),
        (r"\p{Alpha}\P{Alpha}", r"unsupported character property \p{Alpha}"),
        (r"\p{Xx}", r"unsupported character property \p{Xx}"),
        (r"\Qé\E", "a non-ASCII character in the pattern"),
        (r"\x80", "a non-ASCII character in the pattern"),
        (r"\u00ff", "a non-ASCII character in the pattern"),
        (r"\k<n>", r"unsupported escape \k"),
        ("[]a]", "an empty class"),
        ("[^]a]", "an empty class"),
        ("[ab", "an unterminated class"),
        ("[a&&b]", "nested classes or intersections"),
        ("(?u)a", "an unsupported group or flag"),
    ],
)
def test_why_a_pattern_is_refused(java: str, why: str) -> None:
    with pytest.raises(ValueError) as caught:
        _validate._translate(java)
    assert str(caught.value) == why


@attrs.frozen(kw_only=True)
class Odd:
    """Shapes the ECS model has few or none of, which the checks must still handle."""

    bare: typing.List | None = None  # type: ignore[type-arg]  # noqa: UP006
    grid: list[list[str]] | None = None
    labels: list[m.Tag] | None = None
    by_name: dict[str, m.Tag] | None = None
    at_least: list[str] | None = None
    at_most: list[str] | None = None
    some: dict[str, str] | None = None
    big: int | None = None


def test_shapes_the_model_rarely_has(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = {
        "at_least": (2, None, None, False),
        "at_most": (None, 1, None, False),
        "some": (1, None, None, False),
        "big": (None, 10**6, None, False),
    }
    monkeypatch.setattr(Odd, "__shape__", ShapeSpec(limits=limits), raising=False)
    run = check_of(Odd)
    many = [m.Tag(key=f"k{i}") for i in range(51)]
    fine = Odd(
        bare=[1, "x"],
        grid=[["a"], []],
        labels=many[:50],
        by_name={t.key: t for t in many},  # the limit on tags is on lists of them
        at_least=["a", "b"],
        at_most=["a"],
        some={"k": "v"},
        big=10**6,
    )
    assert run(fine) == []
    wrong = Odd(
        bare="x",
        grid=[["a", 1]],
        labels=many,
        at_least=["a"],
        at_most=["a", "b"],
        some={},
        big=10**6 + 1,
    )  # type: ignore[arg-type, list-item]
    assert run(wrong) == [
        ("at.bare", "expected a list, got str"),
        ("at.grid[0][1]", "expected a string, got int"),
        ("at.labels", "must have between 0 and 50 items, got 51"),
        ("at.at_least", "must have at least 2 items, got 1"),
        ("at.at_most", "must have at most 1 items, got 2"),
        ("at.some", "must have at least 1 entries, got 0"),
        ("at.big", "must be at most 1000000, got 1000001"),
    ]


def test_float_bounds_are_written_as_numbers() -> None:
    base = {"daemon_name": "d", "daemon_task_definition_arn": "a", "capacity_provider_arns": []}
    assert (
        message(
            "CreateDaemon",
            "deployment_configuration.drain_percent",
            **base,
            deployment_configuration={"drain_percent": 100.5},
        )
        == "must be between 0 and 100, got 100.5"
    )


@attrs.frozen(kw_only=True)
class Floaty:
    ratio: float | None = None
    name: str | None = None


def test_a_request_is_checked_only_where_needed() -> None:
    # Its own members were type-checked by `build_request`; only floats (NaN and infinities
    # are not JSON) and constrained members are checked again.
    _validate.validate("Floaty", Floaty(ratio=1.5, name=7))  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as caught:
        _validate.validate("Floaty", Floaty(ratio=float("nan")))
    assert caught.value.problems == [("ratio", "must be a finite number, got nan")]
    # A union as the request itself (`Either` says it is one): its problem is at the empty path.
    with pytest.raises(ValidationError) as caught:
        _validate.validate("Choice", Either())
    assert caught.value.problems == [("", "exactly one of left, right must be set; none is set")]
    # A class with nothing to check gets no checker at all.
    assert _validate._class_check(Leaf, False) is not None
    assert _validate._class_check(Empty, False) is None


@attrs.frozen(kw_only=True)
class Empty:
    document: Any = None
