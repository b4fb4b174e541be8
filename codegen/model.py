"""The intermediate representation: botocore's ECS model as plain data, ready to render.

Everything about *naming and typing* is decided here, so the renderer only formats.
"""

from __future__ import annotations

import html
import keyword
import re
from dataclasses import dataclass, field, replace
from typing import Any

from .customizations import LIMITS, NOT_SAFE_TO_REPEAT, THROTTLING, Limit

SERVICE = "ecs"

# Scalar wire types and their Python spelling.
_SCALARS = {
    "string": "str",
    "integer": "int",
    "long": "int",
    "boolean": "bool",
    "double": "float",
    "float": "float",
    "timestamp": "datetime",
}


@dataclass(frozen=True)
class Constraints:
    """Limits the model states for a member's shape; checked before a request is sent."""

    min: float | None = None
    max: float | None = None
    pattern: str | None = None


@dataclass(frozen=True)
class Member:
    wire_name: str
    py_name: str
    shape: str
    py_type: str
    required: bool  # required by the model
    optional_in_python: bool  # `X | None = None` in the class
    empty_by_default: bool  # a list/map of a decoded structure: absent means empty
    sensitive: bool
    doc: str


@dataclass(frozen=True)
class Structure:
    name: str
    members: tuple[Member, ...]
    doc: str
    is_union: bool
    is_input: bool
    is_output: bool  # reachable from an operation's output: gets a generated wire decoder


@dataclass(frozen=True)
class ErrorShape:
    name: str
    doc: str
    # Retried like throttling by botocore (its standard mode's throttling codes, or a
    # `retryable: {throttling: true}` trait): the class subclasses `ThrottlingException`.
    throttling: bool = False


@dataclass(frozen=True)
class Operation:
    name: str
    py_name: str
    input: str
    output: str
    readonly: bool
    idempotent: bool  # the model says repeating it has no further effect
    idempotency_token: str | None  # attribute aioecs fills with a fresh token when omitted
    doc: str
    # From customizations.py: the throttling category it draws from, whether a retry after an
    # ambiguous failure is harmless, and documented limits by member the model lacks.
    category: str | None = None
    safe_to_repeat: bool = True
    limits: tuple[tuple[str, tuple[Limit | str, ...]], ...] = ()


@dataclass(frozen=True)
class Paginator:
    operation: str
    py_name: str
    input_token: str
    output_token: str
    result_key: str


@dataclass(frozen=True)
class Waiter:
    name: str
    py_name: str
    operation: str
    delay: int
    max_attempts: int
    acceptors: tuple[dict[str, Any], ...]
    doc: str


@dataclass
class ServiceIR:
    botocore_version: str
    api_version: str
    target_prefix: str
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    structures: list[Structure] = field(default_factory=list)  # dependency order
    errors: list[ErrorShape] = field(default_factory=list)
    operations: list[Operation] = field(default_factory=list)
    paginators: list[Paginator] = field(default_factory=list)
    waiters: list[Waiter] = field(default_factory=list)
    # Shape name -> constraints, for scalars/lists/maps with limits.
    constraints: dict[str, Constraints] = field(default_factory=dict)
    # List shape name -> its member shape name.
    list_items: dict[str, str] = field(default_factory=dict)


def xform_name(name: str) -> str:
    """botocore's own snake_case rule, so attribute names match what boto3 users know."""
    from botocore import xform_name as botocore_xform

    py = botocore_xform(name)
    return py + "_" if keyword.iskeyword(py) else py


_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)\]'\"`])\.(\s|$)")


def first_sentence(doc: str | None) -> str:
    """The first sentence of an HTML documentation string, as plain text."""
    if not doc:
        return ""
    text = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", doc))).strip()
    match = _SENTENCE_END.search(text)
    if match:
        text = text[: match.start() + 1]
    # Keep docstrings one readable line-ish and free of characters that end them.
    return text.replace("\\", "\\\\").replace('"""', "'''").strip()


def load(service: str = SERVICE) -> ServiceIR:
    """Read service-2, paginators-1 and waiters-2 through botocore's loader."""
    import botocore
    import botocore.session

    loader = botocore.session.get_session().get_component("data_loader")
    api = loader.load_service_model(service, "service-2")
    paginators = loader.load_service_model(service, "paginators-1")["pagination"]
    waiters = loader.load_service_model(service, "waiters-2")["waiters"]
    return _build(api, paginators, waiters, botocore.__version__)


def _throttling(name: str, shape: dict[str, Any]) -> bool:
    """Whether botocore retries this error as throttling: its standard mode's list of
    throttling codes (botocore/retries/standard.py), or the shape's own retryable trait."""
    from botocore.retries.standard import ThrottledRetryableChecker

    trait = shape.get("retryable") or {}
    return bool(trait.get("throttling")) or name in ThrottledRetryableChecker._THROTTLED_ERROR_CODES


def _deps(shape: dict[str, Any]) -> list[str]:
    kind = shape["type"]
    if kind == "structure":
        return [m["shape"] for m in shape.get("members", {}).values()]
    if kind == "list":
        return [shape["member"]["shape"]]
    if kind == "map":
        return [shape["key"]["shape"], shape["value"]["shape"]]
    return []


def _reachable(shapes: dict[str, Any], roots: list[str]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(_deps(shapes[name]))
    return seen


def _build(
    api: dict[str, Any],
    paginators: dict[str, Any],
    waiters: dict[str, Any],
    botocore_version: str,
) -> ServiceIR:
    shapes: dict[str, Any] = api["shapes"]
    ops: dict[str, Any] = api["operations"]
    ir = ServiceIR(
        botocore_version=botocore_version,
        api_version=api["metadata"]["apiVersion"],
        target_prefix=api["metadata"]["targetPrefix"],
    )
    inputs = _reachable(shapes, [o["input"]["shape"] for o in ops.values() if "input" in o])
    outputs = _reachable(shapes, [o["output"]["shape"] for o in ops.values() if "output" in o])
    error_names = {e["shape"] for o in ops.values() for e in o.get("errors", [])}
    used = inputs | outputs

    def py_type(name: str) -> str:
        shape = shapes[name]
        kind = shape["type"]
        if kind == "string" and "enum" in shape:
            return name
        if kind in _SCALARS:
            return _SCALARS[kind]
        if kind == "list":
            return f"list[{py_type(shape['member']['shape'])}]"
        if kind == "map":
            key, value = shape["key"]["shape"], shape["value"]["shape"]
            return f"dict[{py_type(key)}, {py_type(value)}]"
        if kind == "structure":
            return "Document" if shape.get("document") else name
        raise ValueError(f"unsupported shape type {kind!r} ({name})")

    for name in sorted(used):
        shape = shapes[name]
        if shape["type"] == "string" and "enum" in shape:
            ir.enums[name] = tuple(shape["enum"])
        if shape["type"] == "list":
            ir.list_items[name] = shape["member"]["shape"]
        if any(k in shape for k in ("min", "max", "pattern")):
            ir.constraints[name] = Constraints(
                min=shape.get("min"), max=shape.get("max"), pattern=shape.get("pattern")
            )

    structures: dict[str, Structure] = {}
    for name in sorted(used):
        shape = shapes[name]
        if shape["type"] != "structure" or shape.get("document") or shape.get("exception"):
            continue
        required = set(shape.get("required", []))
        # Required members are required keyword arguments wherever the structure can be built
        # by a caller (so mypy reports a LogConfiguration without log_driver). Pure response
        # structures keep them optional: nobody builds those, and AWS does not always send
        # what its model calls required. When a response lacks a required member of a shared
        # structure, `serde.decode` gives None rather than failing the whole response.
        output_only = name in outputs and name not in inputs
        # In what the server sends, an absent list means an empty one; making it `[]` lets
        # callers iterate without a None check. Structures that are only ever sent (each
        # operation's request, foremost) keep None, since AWS tells an explicit empty list
        # ("remove all load balancers") from an absent one. Structures used both ways
        # (ContainerDefinition, NetworkConfiguration) get `[]` too: an empty default is not
        # sent (see `serde.encode`), and inside them ECS treats absent and empty alike.
        decoded = name in outputs
        members = []
        for wire, ref in shape["members"].items():
            target = shapes[ref["shape"]]
            is_required = wire in required and not output_only
            empty = decoded and not is_required and target["type"] in ("list", "map")
            members.append(
                Member(
                    wire_name=wire,
                    py_name=xform_name(wire),
                    shape=ref["shape"],
                    py_type=py_type(ref["shape"]),
                    required=wire in required,
                    optional_in_python=not is_required and not empty,
                    empty_by_default=empty,
                    sensitive=bool(target.get("sensitive") or ref.get("sensitive")),
                    doc=first_sentence(ref.get("documentation")),
                )
            )
        structures[name] = Structure(
            name=name,
            members=tuple(members),
            doc=first_sentence(shape.get("documentation")) or f"The {name} structure.",
            is_union=bool(shape.get("union")),
            is_input=name in inputs,
            is_output=decoded,
        )
    ir.structures = _dependency_order(structures, shapes)

    for name in sorted(error_names | {n for n in used if shapes[n].get("exception")}):
        shape = shapes[name]
        ir.errors.append(
            ErrorShape(
                name=name,
                doc=first_sentence(shape.get("documentation")) or f"The {name} error.",
                throttling=_throttling(name, shape),
            )
        )

    for name in sorted(ops):
        op = ops[name]
        ir.operations.append(
            Operation(
                name=name,
                py_name=xform_name(name),
                input=op["input"]["shape"],
                output=op["output"]["shape"],
                readonly=bool(op.get("readonly")),
                idempotent=bool(op.get("idempotent")),
                idempotency_token=next(
                    (
                        xform_name(member)
                        for member, ref in shapes[op["input"]["shape"]]["members"].items()
                        if ref.get("idempotencyToken")
                    ),
                    None,
                ),
                doc=first_sentence(op.get("documentation")),
            )
        )

    ir.operations = _customized(ir.operations)

    for name in sorted(paginators):
        spec = paginators[name]
        ir.paginators.append(
            Paginator(
                operation=name,
                py_name=xform_name(name),
                input_token=spec["input_token"],
                output_token=spec["output_token"],
                result_key=spec["result_key"],
            )
        )

    for name in sorted(waiters):
        spec = waiters[name]
        ir.waiters.append(
            Waiter(
                name=name,
                py_name=xform_name(name),
                operation=spec["operation"],
                delay=spec["delay"],
                max_attempts=spec["maxAttempts"],
                acceptors=tuple(spec["acceptors"]),
                doc=first_sentence(spec.get("description")),
            )
        )
    return ir


def _dependency_order(structures: dict[str, Structure], shapes: dict[str, Any]) -> list[Structure]:
    """Structures ordered so each is defined after those it refers to (the model has no cycles),
    ties broken by name: annotations can then be real objects, resolved once at import."""

    def struct_deps(name: str) -> set[str]:
        found: set[str] = set()
        stack = _deps(shapes[name])
        while stack:
            dep = stack.pop()
            if dep in structures:
                found.add(dep)
            elif shapes[dep]["type"] in ("list", "map"):
                stack.extend(_deps(shapes[dep]))
        return found

    ordered: list[Structure] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            raise ValueError(f"recursive shape {name}: not supported by this generator")
        visiting.add(name)
        for dep in sorted(struct_deps(name)):
            visit(dep)
        visiting.discard(name)
        done.add(name)
        ordered.append(structures[name])

    for name in sorted(structures):
        visit(name)
    return ordered


def _customized(operations: list[Operation]) -> list[Operation]:
    """The operations with the facts `customizations.py` keeps about them; an operation it
    names that the model lacks is an error (a fact about nothing would be silently lost)."""
    category_of = {op: category for category, ops in THROTTLING.items() for op in ops}
    known = {op.name for op in operations}
    unknown = (set(category_of) | set(NOT_SAFE_TO_REPEAT) | set(LIMITS)) - known
    if unknown:
        raise ValueError(f"customizations.py names operations the model lacks: {sorted(unknown)}")
    return [
        replace(
            op,
            category=category_of.get(op.name),
            # A token aioecs fills makes any operation safe to repeat.
            safe_to_repeat=op.idempotency_token is not None or op.name not in NOT_SAFE_TO_REPEAT,
            limits=tuple(sorted(LIMITS.get(op.name, {}).items())),
        )
        for op in operations
    ]
