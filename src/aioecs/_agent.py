"""One exchange with the ECS container agent, from inside a task: where it is, and how long to
wait for it.

The agent answers on link-local addresses the task finds in its environment
(`ECS_CONTAINER_METADATA_URI_V4`, `ECS_AGENT_URI`), unauthenticated and unsigned, so these
calls skip the client's pipeline and go straight through an `AiohttpTransport` of their own.
A worker's shutdown path waits on them, so nothing here may hang: connecting gets at most
2 s, the whole call (retries included) `timeout` seconds. Busy (429) and failing (5xx)
agents, and lost connections, are tried again with jittered exponential back-off, which is
safe because every call here is idempotent (GET, or PUT of a whole state).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ._config import ConfigError
from ._exceptions import AgentError, TransportError
from ._transport import AiohttpTransport, HttpRequest, HttpResponse

METADATA_VARIABLE = "ECS_CONTAINER_METADATA_URI_V4"
AGENT_VARIABLE = "ECS_AGENT_URI"
DEFAULT_TIMEOUT = 5.0
CONNECT_TIMEOUT = 2.0
MAX_ATTEMPTS = 4
_FIRST_BACKOFF = 0.1
_MAX_BACKOFF = 1.0
# The agent answers ECS's own throttling with the code it got (and a 4xx status).
_RETRYABLE_CODES = frozenset({"ThrottlingException", "ServerException"})


def endpoint(variable: str) -> str:
    """The agent URL the task's environment gives in `variable`, without a trailing slash.

    Unset means this is not running in an ECS task (or, for the metadata variable, on an
    agent older than 1.39.0 / Fargate platform 1.4.0): say so at once rather than time out.
    """
    value = os.environ.get(variable, "").strip()
    if not value:
        raise ConfigError(
            f"{variable} is not set: the ECS container agent sets it in every container of an "
            "ECS task (EC2 agent 1.39.0 or later, Fargate platform 1.4.0 or later). Outside a "
            "task, LocalECS.task_environment() gives a test the variables a task would see."
        )
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{variable} is not an http:// URL: {value!r}")
    return value.rstrip("/")


class AgentConnection:
    """A short-lived connection to the agent: one per `task_metadata()` call, one per
    `protect_task()` block. Use as `async with AgentConnection(timeout) as agent:`."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.timeout = timeout
        self._connect_timeout = min(CONNECT_TIMEOUT, timeout)
        self._transport = AiohttpTransport(
            max_connections=4,
            connect_timeout=self._connect_timeout,
            read_timeout=timeout,
            timeout=timeout,
        )

    async def __aenter__(self) -> AgentConnection:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._transport.close()

    async def call(self, what: str, method: str, url: str, body: object = None) -> Any:
        """The JSON the agent answered to `method url` (with `body` as JSON), retried as the
        module says; `AgentError` if it refused, failed or gave no answer within `timeout`."""
        headers = {"Accept": "application/json"}
        data = b""
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        request = HttpRequest(method, url, headers, data)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return answer_of(what, await self._send(what, request, deadline - loop.time()))
            except AgentError as exc:
                pause = _backoff(attempt)
                if not _retryable(exc) or attempt == MAX_ATTEMPTS:
                    raise
                if loop.time() + pause >= deadline:
                    raise
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(self, what: str, request: HttpRequest, remaining: float) -> HttpResponse:
        try:
            return await asyncio.wait_for(self._transport.send(request), max(remaining, 0.001))
        except asyncio.TimeoutError:
            code = "Timeout"
        except TransportError as exc:
            code = exc.code
        # The transport's own timeouts and the deadline's say the same thing.
        if code == "Timeout":
            problem = f"did not answer within {self.timeout:g} s"
        elif code == "ConnectTimeout":
            problem = f"did not accept a connection within {self._connect_timeout:g} s"
        else:
            problem = "could not be reached"
        raise AgentError(f"{what}: the ECS agent at {request.url} {problem}", code=code)


def answer_of(what: str, response: HttpResponse) -> Any:
    """The JSON body of a 2xx answer; `AgentError` (with the agent's code) for any other."""
    try:
        document = json.loads(response.body) if response.body else None
    except ValueError:
        document = None
    if 200 <= response.status < 300:
        if document is None:
            raise AgentError(
                f"{what}: the ECS agent's answer is not JSON",
                code="ResponseError",
                status=response.status,
            )
        return document
    raise refusal(what, response.status, document)


def refusal(what: str, status: int, document: object) -> AgentError:
    """The agent's error (`{"error": {"Code", "Message"}}`) or failure (`{"failure": {"Reason",
    "Detail"}}`) answer, with its `requestID`; or, if it named nothing, its HTTP status."""
    detail: Mapping[str, Any] = {}
    request_id = None
    if isinstance(document, dict):
        found = document.get("error") or document.get("failure")
        detail = found if isinstance(found, dict) else {}
        request_id = document.get("requestID")
    code = detail.get("Code") or detail.get("Reason") or f"HTTP{status}"
    message = detail.get("Message") or detail.get("Detail") or ""
    return AgentError(
        f"{what}: {message}" if message else what,
        code=str(code),
        status=status,
        request_id=str(request_id) if request_id else None,
    )


def _retryable(exc: AgentError) -> bool:
    if exc.status is None:  # no answer: not connected, reset, timed out
        return exc.code != "Timeout"  # a timeout has used the whole allowance already
    return exc.status == 429 or exc.status >= 500 or exc.code in _RETRYABLE_CODES


def _backoff(attempt: int) -> float:
    """Full-jitter exponential back-off: 0.1, 0.2, 0.4 ... s, at most 1 s."""
    return random.uniform(0, min(_MAX_BACKOFF, _FIRST_BACKOFF * 2 ** (attempt - 1)))
