"""Every fact about an operation is in its generated descriptor, from botocore's model plus
`codegen/customizations.py`; the runtime's policy modules name no operation (issue 19)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from codegen import model as ir_model

from aioecs._generated import operations
from aioecs._limits import CATEGORIES
from aioecs._spec import DocumentedLimit

SRC = Path(__file__).resolve().parents[2] / "src" / "aioecs"
SERVICE = operations.SERVICE


def test_descriptors_carry_the_throttling_category_repeat_safety_and_documented_limits() -> None:
    describe = SERVICE.operations["DescribeTasks"]
    assert describe.category == "cluster_resource_read" and describe.readonly
    assert describe.limits == {"tasks": (DocumentedLimit(1, 100),)}
    start = SERVICE.operations["StartTask"]
    assert (start.category, start.safe_to_repeat) == ("cluster_resource_modify", False)
    assert start.limits["overrides"] == ("overrides_fit",)
    run = SERVICE.operations["RunTask"]
    assert run.safe_to_repeat and run.idempotency_token == "client_token"
    assert SERVICE.operations["DeleteCapacityProvider"].idempotent  # from the model
    assert {spec.category for spec in SERVICE.operations.values()} - {None} == set(CATEGORIES)


def test_customizations_name_only_operations_the_model_has() -> None:
    ops = ir_model.load().operations
    with pytest.raises(ValueError, match="'ListTasks'"):  # a fact about nothing: refused
        ir_model._customized([op for op in ops if op.name != "ListTasks"])


@pytest.mark.parametrize(
    "module", ["_limits", "_validate", "_spec", "serde", "_protocol", "_config"]
)
def test_a_policy_module_names_no_operation(module: str) -> None:
    words = set(re.findall(r"[A-Za-z]+", (SRC / f"{module}.py").read_text()))
    assert sorted(words & set(SERVICE.operations)) == []
