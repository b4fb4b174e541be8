"""Paginators: async iterators over the pages of a `nextToken` operation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, TypeVar

from ._spec import OperationSpec

Page = TypeVar("Page")
Item = TypeVar("Item")

Call = Callable[[OperationSpec[Any, Page], dict[str, Any]], Awaitable[Page]]


class Paginator(Generic[Page, Item]):
    """`async for page in paginator` gives each response; `paginator.items()` each result.

    A token the service already returned ends the chain instead of looping forever (as the
    Go and Rust SDKs do): a service bug must not become an endless loop in the caller.
    """

    def __init__(
        self,
        call: Call[Page],
        spec: OperationSpec[Any, Page],
        params: dict[str, Any],
        input_token: str,
        output_token: str,
        result_key: str,
    ) -> None:
        self._call = call
        self._spec = spec
        self._params = params
        self._input_token = input_token
        self._output_token = output_token
        self._result_key = result_key

    def __repr__(self) -> str:
        return f"<Paginator {self._spec.name}>"

    async def __aiter__(self) -> AsyncIterator[Page]:
        seen: set[str] = set()
        token: str | None = None
        while True:
            page = await self._call(self._spec, {**self._params, self._input_token: token})
            yield page
            token = getattr(page, self._output_token)
            if not token or token in seen:
                return
            seen.add(token)

    async def items(self) -> AsyncIterator[Item]:
        """Each element of the result list (`task_arns` for ListTasks), page after page."""
        async for page in self:
            for item in getattr(page, self._result_key):
                yield item
