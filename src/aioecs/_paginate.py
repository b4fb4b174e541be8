"""Paginators: async iterators over the pages of a `nextToken` operation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, TypeVar

from ._digests import DigestSet
from ._spec import OperationSpec

Page = TypeVar("Page")
Item = TypeVar("Item")

Call = Callable[[OperationSpec[Any, Page], dict[str, Any]], Awaitable[Page]]


async def token_chain(
    fetch: Callable[[str | None], Awaitable[Page]], next_token: Callable[[Page], str | None]
) -> AsyncIterator[Page]:
    """The pages of a `nextToken` chain: `fetch(None)`, then `fetch(token)` while the last page
    has a token. A token the service already returned ends the chain instead of looping
    forever (as the Go and Rust SDKs do): a service bug must not become an endless loop."""
    seen = DigestSet()
    token: str | None = None
    while True:
        page = await fetch(token)
        yield page
        token = next_token(page)
        if not token or not seen.add(token):
            return


def wire_token(page: Any) -> str | None:
    """The `nextToken` of a page in wire form (the fan-out's and the watch's)."""
    token: str | None = page.get("nextToken")
    return token


class Paginator(Generic[Page, Item]):
    """`async for page in paginator` gives each response; `paginator.items()` each result
    (the chain is `token_chain`'s)."""

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
        def fetch(token: str | None) -> Awaitable[Page]:
            return self._call(self._spec, {**self._params, self._input_token: token})

        async for page in token_chain(fetch, lambda page: getattr(page, self._output_token)):
            yield page

    async def items(self) -> AsyncIterator[Item]:
        """Each element of the result list (`task_arns` for ListTasks), page after page."""
        async for page in self:
            for item in getattr(page, self._result_key):
                yield item
