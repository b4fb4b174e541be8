"""From exceptions to exit codes and one-line messages.

The command's contract: exit 0 on success, 1 when AWS (or the configuration, credentials,
network) says no, 2 for a usage error (click's own). A person at a terminal wants one line
that says what went wrong and the request id AWS support asks for, not a traceback; a
script wants the exit code. A closed pipe (`aioecs tasks | head`) is not an error at all.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

from .._config import ConfigError, NoRegionError
from .._credentials import CredentialsError
from .._exceptions import CallError, ExecError, ValidationError, WaiterError

T = TypeVar("T")


class CommandError(Exception):
    """A failure the command itself detected (e.g. tasks that did not start): exit 1."""


def one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def describe(exc: BaseException) -> str | None:
    """The one-line message for an expected failure; None for a bug (keep the traceback)."""
    if isinstance(exc, CallError):
        text = f"{exc.code}: {exc.message}" if exc.message else exc.code
        if exc.request_id:
            text += f" (request id {exc.request_id})"
        return one_line(text)
    if isinstance(exc, ValidationError):
        problems = "; ".join(f"{path or '<request>'}: {msg}" for path, msg in exc.problems)
        return f"invalid {exc.operation} request: {problems}"
    if isinstance(exc, NoRegionError):  # the library's text speaks of region=...
        return (
            "no AWS region: pass --region, set AWS_REGION or AWS_DEFAULT_REGION, "
            "or set 'region' in the profile's section of the shared config file"
        )
    if isinstance(exc, (ConfigError, CredentialsError, WaiterError, CommandError, ExecError)):
        return one_line(str(exc))
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timed out waiting for a response"
    try:
        import aiohttp
    except ImportError:  # pragma: no cover - aiohttp is a core dependency
        return None
    if isinstance(exc, aiohttp.ClientError):
        return one_line(f"{type(exc).__name__}: {exc}")
    return None


def fail(message: str) -> NoReturn:
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(1)


def quiet_broken_pipe() -> NoReturn:
    """The reader went away (`| head`): stop without a traceback or an error.

    stdout is pointed at /dev/null first, so that the interpreter's final flush of what is
    still buffered does not raise a second BrokenPipeError at exit.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    raise SystemExit(0)


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` with the command's exit-code contract applied."""
    try:
        return asyncio.run(main)
    except BrokenPipeError:
        quiet_broken_pipe()
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        raise SystemExit(130) from None
    except Exception as exc:
        message = describe(exc)
        if message is None:
            raise
        fail(message)
