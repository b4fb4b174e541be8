"""The descriptors generated code hands to the runtime: the service (`ServiceSpec`), what an
operation sends and gets (`OperationSpec`), what a waiter polls (`WaiterSpec`), and what the
model says about each structure (`ShapeSpec`, which its model class carries).

The runtime learns about the generated service only through these; nothing here imports
generated modules, except the public `aioecs.models` facade, on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

if TYPE_CHECKING:
    from ._exceptions import ECSError


class ServiceSpec:
    """A service as its generated code describes it: the `X-Amz-Target` prefix (the header is
    this prefix, a dot and the operation name), the botocore release the code was generated
    from, the exception class of each error code the model declares, and the descriptor of
    each operation, by its wire name."""

    __slots__ = ("botocore_version", "errors", "operations", "target_prefix")

    def __init__(
        self,
        target_prefix: str,
        *,
        botocore_version: str,
        errors: Mapping[str, type[ECSError]],
        operations: Mapping[str, AnySpec],
        model_class: Callable[[str], type[Any]] | None = None,
    ) -> None:
        self.target_prefix = target_prefix
        self.botocore_version = botocore_version
        self.errors = errors
        self.operations = operations
        _OPERATIONS.update(operations)
        if model_class is not None:  # generated code names where its models live
            for spec in operations.values():
                spec.model_class = model_class

    def __repr__(self) -> str:
        return f"ServiceSpec({self.target_prefix!r})"

    def category_of(self, operation: str) -> str | None:
        """The throttling category an operation draws from (None: ECS lists it in none)."""
        spec = self.operations.get(operation)
        return spec.category if spec is not None else None


In = TypeVar("In")
Out = TypeVar("Out")
_NONE: Mapping[str, Any] = MappingProxyType({})
_OPERATIONS: dict[str, AnySpec] = {}  # of every service described, by wire name


def operation_named(name: str) -> AnySpec | None:
    """The descriptor of an operation by its wire name, for code that holds only the name
    (None before the generated service is loaded, or for a name it lacks)."""
    return _OPERATIONS.get(name)


class DocumentedLimit(NamedTuple):
    """A limit AWS documents on a request member and the model lacks: a string's or a list's
    length, or a number's value, within `min`..`max` (the same layout as the model's `Limit`).
    Codegen takes each from `codegen/customizations.py`, which cites its source."""

    min: float | None
    max: float | None
    pattern: str | None = None
    items: bool = False


class OperationSpec(Generic[In, Out]):
    """An ECS operation: its wire name, its input and output model classes, and every fact
    about it the runtime acts on. From the model: whether it is read-only, idempotent, or has
    an idempotency token member. From `codegen/customizations.py`, each fact cited there: the
    throttling category it draws from (`category`, see `aioecs._limits`), whether a retry
    after an ambiguous failure is harmless (`safe_to_repeat`), and documented limits on its
    request's members (`limits`: member -> `DocumentedLimit`s, or names of `_validate` rules).

    The model classes are named, not referenced, and resolved on first use, so importing the
    client does not build all 400 model classes.
    """

    __slots__ = (
        "_classes",
        "category",
        "idempotency_token",
        "idempotent",
        "input_name",
        "limits",
        "model_class",
        "name",
        "output_name",
        "readonly",
        "safe_to_repeat",
    )

    def __init__(
        self,
        name: str,
        input_name: str,
        output_name: str,
        *,
        readonly: bool,
        idempotent: bool = False,
        idempotency_token: str | None = None,
        category: str | None = None,
        safe_to_repeat: bool = True,
        limits: Mapping[str, tuple[DocumentedLimit | str, ...]] = _NONE,
    ) -> None:
        self.name = name
        self.input_name = input_name
        self.output_name = output_name
        self.idempotent = idempotent
        self.idempotency_token = idempotency_token
        # Read-only calls change nothing: throttling never ends them while ECS makes progress.
        self.readonly = readonly
        self.category = category
        self.safe_to_repeat = safe_to_repeat
        self.limits = limits
        # The generated service's model lookup (set by its `ServiceSpec`): this module never
        # imports the generated models, which import it.
        self.model_class: Callable[[str], type[Any]] | None = None
        self._classes: tuple[type[In], type[Out]] | None = None

    def _resolve(self) -> tuple[type[In], type[Out]]:
        if self._classes is None:
            if self.model_class is None:
                raise RuntimeError(f"{self.name}: no ServiceSpec names where its models live")
            self._classes = (self.model_class(self.input_name), self.model_class(self.output_name))
        return self._classes

    @property
    def input(self) -> type[In]:
        return self._resolve()[0]

    @property
    def output(self) -> type[Out]:
        return self._resolve()[1]

    def __repr__(self) -> str:
        return f"OperationSpec({self.name!r})"


AnySpec = OperationSpec[Any, Any]


class WaiterSpec:
    """A waiter from botocore's waiters-2.json: which operation to poll, how often, and the
    acceptors (`matcher`, `argument`, `expected`, `state`) that decide when to stop."""

    __slots__ = ("acceptors", "delay", "max_attempts", "name", "operation")

    def __init__(
        self,
        name: str,
        operation: AnySpec,
        *,
        delay: float,
        max_attempts: int,
        acceptors: tuple[dict[str, Any], ...],
    ) -> None:
        for acceptor in acceptors:
            # An error carries no response to return, and a waiter returns the response that
            # succeeded; ECS's waiters only ever fail or retry on errors.
            if acceptor["matcher"] == "error" and acceptor["state"] == "success":
                raise ValueError(f"waiter {name}: an error acceptor cannot mean success")
        self.name = name
        self.operation = operation
        self.delay = delay
        self.max_attempts = max_attempts
        self.acceptors = acceptors

    def __repr__(self) -> str:
        return f"WaiterSpec({self.name!r})"


Limit = tuple[float | None, float | None, str | None, bool]
"""`(min, max, pattern, applies_to_items)`: min/max bound a string's or list's length, or a
number's value; the pattern is the model's, in Java regex syntax; `applies_to_items` marks a
limit on each element of a list (kept under the member's name plus `[]`) rather than on it."""


class ShapeSpec:
    """What the model says about one structure, beyond its attributes and their types: the
    wire (camelCase) name of each attribute whose snake_case differs, and for structures a
    request can hold, the members the model requires, their limits, and whether it is a union
    (exactly one member set). `decode` is the straight-line wire decoder codegen wrote for an
    output structure (None for input-only ones).

    Each generated model class carries its own as `__shape__` (see `shape_of`); the runtime
    reads the model from there, never from generated tables.
    """

    __slots__ = ("decode", "limits", "required", "union", "wire_names")

    def __init__(
        self,
        *,
        wire_names: Mapping[str, str] = _NONE,
        required: tuple[str, ...] = (),
        limits: Mapping[str, Limit] = _NONE,
        union: bool = False,
        decode: Callable[[Any], Any] | None = None,
    ) -> None:
        self.wire_names = wire_names
        self.required = required
        self.limits = limits
        self.union = union
        self.decode = decode

    def __repr__(self) -> str:
        return f"ShapeSpec(decode={getattr(self.decode, '__name__', None)!r})"


def shape_of(cls: type[Any]) -> ShapeSpec | None:
    """The `ShapeSpec` a model class declares itself, or None (classes of your own, including
    subclasses of generated models, which may not decode or validate like their base)."""
    spec = vars(cls).get("__shape__") if isinstance(cls, type) else None
    return spec if isinstance(spec, ShapeSpec) else None
