"""The single-use async stream that `iter_tasks`, `iter_fleet_tasks` and `watch_tasks` return.

Each is an object you iterate once (`async for`), read counters from afterwards, and may use
as `async with` for cleanup that happens right when the block ends. The generator behind it
is held weakly, so that a plain `break` lets it be finalized, which cancels its requests; the
pipeline refers to the stream, never to its iterator.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncGenerator
from types import TracebackType
from typing import Any, Generic, TypeVar

__all__ = ["Stream"]

T = TypeVar("T")
S = TypeVar("S", bound="Stream[Any]")


class Stream(Generic[T]):
    """Subclasses implement `_generate()`, the async generator of what the stream yields."""

    def __init__(self) -> None:
        self._iterator: weakref.ref[AsyncGenerator[T, None]] | None = None
        self._pinned: AsyncGenerator[T, None] | None = None
        self._entered = False

    def _generate(self) -> AsyncGenerator[T, None]:
        raise NotImplementedError

    def __aiter__(self) -> AsyncGenerator[T, None]:
        if self._iterator is not None:
            raise RuntimeError(f"a {type(self).__name__} can be iterated only once")
        iterator = self._generate()
        self._iterator = weakref.ref(iterator)
        if self._entered:  # inside `async with`, the exit closes it: keep it until then
            self._pinned = iterator
        return iterator

    async def __aenter__(self: S) -> S:
        self._entered = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop now and wait until nothing of the stream is left running."""
        iterator = self._iterator() if self._iterator is not None else None
        self._pinned = None
        if iterator is not None:
            await iterator.aclose()
