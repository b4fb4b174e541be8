"""Waiters: poll an operation until an acceptor from waiters-2.json says stop.

Semantics follow botocore: acceptors are tried in order and the first match wins;
`path` compares the JMESPath result, `pathAll`/`pathAny` need a non-empty list whose
elements all/any equal `expected`, `error` matches an error code; no match means retry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from . import serde
from ._exceptions import CallError, WaiterError
from ._spec import OperationSpec, WaiterSpec
from ._wait_deadline import Expired, WaitDeadline

Out = TypeVar("Out")


async def wait(
    call: Callable[[OperationSpec[Any, Out], dict[str, Any]], Awaitable[Out]],
    spec: WaiterSpec,
    params: dict[str, Any],
    *,
    delay: float | None = None,
    max_attempts: int | None = None,
    timeout: float | None = None,
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Out:
    """The first response an acceptor calls success; `WaiterError` otherwise.

    `timeout` bounds the polls as well as the pauses between them: a poll still in flight at
    the deadline (throttled, or on a hung connection) is cut, since waiters only read.
    `pause` is the client's, so that `close()` ends a wait between polls.
    """
    delay_s = spec.delay if delay is None else delay
    attempts = spec.max_attempts if max_attempts is None else max_attempts
    if timeout is not None and max_attempts is None:
        attempts = 2**31  # a timeout alone bounds the wait
    deadline = WaitDeadline(timeout)
    last: Any = None
    for attempt in range(1, attempts + 1):
        try:
            response: Out = await deadline.bound(call(spec.operation, params))
            state = _match(spec.acceptors, serde.encode(response), None)
            last = response
        except Expired:
            raise _error(spec, f"timed out after {timeout} s", last) from None
        except CallError as exc:
            state = _match(spec.acceptors, None, exc)
            if state is None:
                raise _error(spec, f"unexpected error: {exc}", last) from exc
            if state == "failure":
                raise _error(spec, f"a failure state was reached: {exc.code}", last) from exc
            # An error acceptor means "retry" here: WaiterSpec refuses one meaning success.
        else:
            if state == "success":
                return response
            if state == "failure":
                raise _error(spec, "a failure state was reached", last)
        if attempt == attempts:
            break
        pause_s = deadline.pause(delay_s)
        if pause_s is None:
            raise _error(spec, f"timed out after {timeout} s", last)
        await pause(pause_s)
    raise _error(spec, f"gave up after {attempts} attempts", last)


# A message names at most this many tasks: a waiter over a hundred tasks stays readable.
_MAX_DETAILS = 10


def _error(spec: WaiterSpec, reason: str, last: Any) -> WaiterError:
    return WaiterError(spec.name, reason, last, _task_details(spec, last))


def _task_details(spec: WaiterSpec, last: Any) -> list[str]:
    """For waiters polling DescribeTasks: each task not in the state waited for, and each
    ARN ECS reported as a failure (`MISSING` for one it does not know)."""
    if spec.operation.name != "DescribeTasks" or last is None:
        return []
    # The state waited for is what the waiter's success acceptor expects of every task.
    awaited = {
        a["expected"]
        for a in spec.acceptors
        if a["state"] == "success" and a["argument"] == "tasks[].lastStatus"
    }
    lines = []
    for task in last.tasks:
        if task.last_status not in awaited:
            line = f"{task.task_arn}: {task.last_status}"
            if task.stopped_reason:
                line += f" ({task.stopped_reason})"
            lines.append(line)
    for failure in last.failures:
        line = f"{failure.arn}: {failure.reason}"
        if failure.detail:
            line += f" ({failure.detail})"
        lines.append(line)
    if len(lines) > _MAX_DETAILS:
        lines[_MAX_DETAILS:] = [f"and {len(lines) - _MAX_DETAILS} more"]
    return lines


def _match(acceptors: tuple[dict[str, Any], ...], data: Any, error: CallError | None) -> str | None:
    import jmespath

    for acceptor in acceptors:
        matcher, expected = acceptor["matcher"], acceptor["expected"]
        if matcher == "error":
            if error is None:
                if expected is False:  # "no error" acceptor (waiters-2 allows booleans)
                    return str(acceptor["state"])
                continue
            if expected is True or error.code == expected:
                return str(acceptor["state"])
            continue
        if error is not None:
            continue
        found = jmespath.search(acceptor["argument"], data)
        if matcher == "path":
            hit = found == expected
        elif matcher == "pathAll":
            hit = isinstance(found, list) and bool(found) and all(v == expected for v in found)
        elif matcher == "pathAny":
            hit = isinstance(found, list) and any(v == expected for v in found)
        else:
            raise ValueError(f"unknown acceptor matcher {matcher!r}")
        if hit:
            return str(acceptor["state"])
    return None
