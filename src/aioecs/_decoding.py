"""What the generated wire decoders (`decode_<shape>` beside each output model in
`aioecs._generated.shapes`) share: timestamps, and building frozen models without their
`__init__`.

Kept free of cattrs and of any model, so that loading a model stays as cheap as it was;
`aioecs.serde` registers the decoders with its converter on first use.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar

_T = TypeVar("_T")

UTC = timezone.utc
fromtimestamp = datetime.fromtimestamp


def timestamp(value: Any) -> datetime:
    """A wire timestamp as an aware UTC datetime.

    AWS JSON sends epoch seconds (1476822811.295); `fromtimestamp` rounds to the nearest
    microsecond, so the milliseconds come back exact. Generated decoders take the float case
    inline and call this for the rest.
    """
    if isinstance(value, (int, float)):
        return fromtimestamp(value, UTC)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            return fromtimestamp(float(value), UTC)
        except ValueError:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise TypeError(f"expected epoch seconds, got {type(value).__name__}")


def collected_after(decode: Callable[[Any], _T], data: Any) -> _T:
    """`decode(data)` with the cyclic garbage collector held off until it returns.

    Decoding a page of 100 tasks allocates about 4,000 container objects (models, lists) and
    no cycles; every 700 allocations CPython runs a young-generation collection that scans
    them for nothing, which measured a third of the decode or more. The collector's state is
    restored afterwards, also when the decode fails; if it was already off (a nested
    decode), it stays off.
    """
    if not gc.isenabled():
        return decode(data)
    gc.disable()
    try:
        return decode(data)
    finally:
        gc.enable()


def builder(cls: type[Any]) -> Callable[[], Any]:
    """A function returning a blank, assignable instance that becomes a `cls` once the
    decoder has set every member and assigned `__class__ = cls`.

    Models are frozen, so attrs' `__init__` sets each slot through `object.__setattr__`, which
    was a third of decoding time. The blank instance is of a subclass that adds no slots and
    takes plain attribute assignment (which CPython specialises for slots); CPython allows
    switching `__class__` between two classes of one layout. The result is an ordinary `cls`
    instance, the same for `==`, `hash`, `repr` and pickling as one `__init__` made; only
    `cls.__subclasses__()` shows the builder class.
    """
    assignable = type(
        cls.__name__,
        (cls,),
        {
            "__slots__": (),
            "__module__": cls.__module__,
            "__qualname__": f"{cls.__qualname__}.<builder>",
            # Both: they share one type slot, and a Python-level either one makes CPython
            # take the slow path for every assignment.
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
        },
    )
    return functools.partial(object.__new__, assignable)


def expect_mapping(data: Any) -> None:
    """For structures without members, whose decoders read nothing that would check."""
    if not isinstance(data, Mapping):
        raise TypeError(f"expected an object, got {type(data).__name__}")
