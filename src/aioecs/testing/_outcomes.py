"""How an emulated task ends by itself: the conventions a task definition (or RunTask's
container overrides) uses to say so, and the stop code, reasons and exit codes that result.

Environment variables of a container, read when the task is created:

- ``AIOECS_EXIT_CODE=<n>``: the code this container exits with when the task ends by itself.
  Essential containers otherwise exit 0; the others are stopped by the agent as the task ends
  and exit 143 (SIGTERM), as a sidecar does on ECS.
- ``AIOECS_RUN_SECONDS=<s>``: the task runs this long, then its essential container exits
  (instead of ``LocalECS(run_seconds=...)``, or forever when neither is set).
- ``AIOECS_FAIL=image_pull``: the task never starts: stop code ``TaskFailedToStart``,
  ``CannotPullContainerError: ...`` as ECS writes it.
- ``AIOECS_FAIL=resource_initialization``: the same with ``ResourceInitializationError: ...``.
- ``AIOECS_FAIL=out_of_memory``: the container is killed for its memory use when the task's
  run time is up (at once when none is set): exit code 137, reason ``OutOfMemoryError:
  Container killed due to memory usage``, and the task stops (stop code
  ``EssentialContainerExited``).
"""

from __future__ import annotations

from collections.abc import Mapping

from ._encoding import JSON
from ._errors import invalid
from ._records import Container, Task

EXIT_CODE = "AIOECS_EXIT_CODE"
RUN_SECONDS = "AIOECS_RUN_SECONDS"
FAIL = "AIOECS_FAIL"
IMAGE_PULL, RESOURCE_INITIALIZATION, OUT_OF_MEMORY = (
    "image_pull",
    "resource_initialization",
    "out_of_memory",
)
FAILURES = (IMAGE_PULL, RESOURCE_INITIALIZATION, OUT_OF_MEMORY)
NEVER_STARTS = frozenset({IMAGE_PULL, RESOURCE_INITIALIZATION})

# The texts ECS writes (Amazon ECS Developer Guide, "Amazon ECS stopped task error messages").
ESSENTIAL_EXITED = "Essential container in task exited"
OUT_OF_MEMORY_REASON = "OutOfMemoryError: Container killed due to memory usage"
_PULL_REASON = (
    "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to "
    "resolve ref {image}: not found"
)
_INIT_REASON = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution "
    "resource retrieval failed: unable to retrieve secret from asm: AccessDeniedException"
)
_SIGTERM = 143  # 128 + 15: docker stop's SIGTERM
_SIGKILL = 137  # 128 + 9: the kernel's OOM killer


def plan(definition: JSON, override: JSON) -> tuple[bool, int | None, str | None, float | None]:
    """``(essential, exit code, failure, run seconds)`` of one container, from its
    definition's environment and its override's (which wins)."""
    env: dict[str, str] = {}
    for entries in (definition.get("environment") or [], override.get("environment") or []):
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                env[entry["name"]] = str(entry.get("value", ""))
    try:
        code = int(env[EXIT_CODE]) if EXIT_CODE in env else None
        run = float(env[RUN_SECONDS]) if RUN_SECONDS in env else None
    except ValueError:
        raise invalid(f"{EXIT_CODE} must be an integer and {RUN_SECONDS} a number") from None
    fail = env.get(FAIL) or None
    if fail is not None and fail not in FAILURES:
        raise invalid(f"{FAIL} must be one of {', '.join(FAILURES)}, not {fail!r}")
    return definition.get("essential", True) is not False, code, fail, run


def never_starts(task: Task) -> bool:
    return any(c.fail in NEVER_STARTS for c in task.containers)


def end_by_itself(task: Task, given: int | Mapping[str, int] | None, reason: str | None) -> None:
    """Stop code, reason and exit codes of a task that ended without a stop request."""
    failing = next((c for c in task.containers if c.fail in NEVER_STARTS), None)
    if task.started_ms is None and failing is not None:
        text = _PULL_REASON.format(image=failing.image)
        if failing.fail == RESOURCE_INITIALIZATION:
            text = _INIT_REASON
        failing.reason = text
        task.stop_code = "TaskFailedToStart"
        task.stopped_reason = reason or text
        return
    task.stop_code = "EssentialContainerExited"
    task.stopped_reason = reason or ESSENTIAL_EXITED
    if task.started_ms is None:
        return  # stopped before it ran: no container exited
    for c in task.containers:
        c.exit_code = _exit_code(c, given)
        if c.fail == OUT_OF_MEMORY:
            c.reason = OUT_OF_MEMORY_REASON


def _exit_code(container: Container, given: int | Mapping[str, int] | None) -> int:
    if isinstance(given, int):
        return given
    if given is not None and container.name in given:
        return given[container.name]
    if container.fail == OUT_OF_MEMORY:
        return _SIGKILL
    if container.planned_exit is not None:
        return container.planned_exit
    return 0 if container.essential else _SIGTERM


def end_by_stop(task: Task, given: int | Mapping[str, int] | None) -> None:
    """Exit codes of a task a stop request took down: SIGTERM unless told otherwise."""
    if task.started_ms is None:
        return
    for c in task.containers:
        if isinstance(given, int):
            c.exit_code = given
        else:
            c.exit_code = (given or {}).get(c.name, _SIGTERM)
