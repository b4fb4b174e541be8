"""Task scale-in protection: UpdateTaskProtection and GetTaskProtection, and what the agent's
task-protection endpoint (``_task_agent``) changes through them.

A task's protection is its expiry in the model's clock (``EcsModel.protection``: ARN -> epoch
ms); once that has passed it is unprotected again, as in ECS. ECS's bounds: ``expiresInMinutes``
1 to 2880, 120 when not given; at most 10 tasks per request.
"""

from __future__ import annotations

from ._encoding import JSON, wire_time
from ._errors import invalid
from ._members import boolean, integer, string, string_list
from ._model import EcsModel
from ._records import STOPPED

DEFAULT_MINUTES = 120
MAX_MINUTES = 2880
_MAX_TASKS = 10


def protected_task(state: EcsModel, arn: str) -> JSON:
    """A task's protection as ECS's ``ProtectedTask`` shows it now."""
    expiry = state.protection.get(arn)
    if expiry is not None and expiry <= state.now_ms():
        del state.protection[arn]
        expiry = None
    out: JSON = {"taskArn": arn, "protectionEnabled": expiry is not None}
    if expiry is not None:
        out["expirationDate"] = wire_time(expiry)
    return out


def expiry_minutes(minutes: int | None) -> int:
    """``expiresInMinutes`` as ECS takes it: 120 when not given, else 1 to 2880."""
    if minutes is None:
        return DEFAULT_MINUTES
    if not 1 <= minutes <= MAX_MINUTES:
        raise invalid(f"expiresInMinutes must be between 1 and {MAX_MINUTES}.")
    return minutes


def set_protection(state: EcsModel, arn: str, enabled: bool, minutes: int) -> JSON:
    """Protect (for ``minutes``) or unprotect one task, known to exist; its new protection."""
    if enabled:
        state.protection[arn] = state.now_ms() + minutes * 60_000
    else:
        state.protection.pop(arn, None)
    return protected_task(state, arn)


def _tasks(state: EcsModel, p: JSON, required: bool) -> tuple[list[str], list[JSON]]:
    """The request's tasks as ARNs that can be protected, and failures for the others."""
    cluster = state.cluster(string(p, "cluster"))
    refs = string_list(p, "tasks")
    if required and not refs:
        raise invalid("Tasks cannot be empty.")
    if len(refs) > _MAX_TASKS:
        raise invalid(f"Tasks can have at most {_MAX_TASKS} items.")
    arns, failures = [], []
    for ref in refs:
        arn = state.task_arn(cluster, ref)
        task = state.tasks.get(arn)
        if task is None or task.cluster is not cluster:
            failures.append({"arn": arn, "reason": "MISSING"})
        elif task.last_status == STOPPED:
            failures.append({"arn": arn, "reason": "TASK_NOT_VALID", "detail": "Task stopped"})
        else:
            arns.append(arn)
    return arns, failures


def update_task_protection(state: EcsModel, p: JSON) -> JSON:
    arns, failures = _tasks(state, p, required=True)
    if "protectionEnabled" not in p:
        raise invalid("protectionEnabled is required.")
    enabled = boolean(p, "protectionEnabled")
    minutes = expiry_minutes(integer(p, "expiresInMinutes"))
    protected = [set_protection(state, arn, enabled, minutes) for arn in arns]
    return {"protectedTasks": protected, "failures": failures}


def get_task_protection(state: EcsModel, p: JSON) -> JSON:
    arns, failures = _tasks(state, p, required=False)
    return {"protectedTasks": [protected_task(state, arn) for arn in arns], "failures": failures}
