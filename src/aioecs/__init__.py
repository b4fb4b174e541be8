"""aioecs: a typed, async client for Amazon ECS.

`ECSClient` is the client; `aioecs.models` holds the typed models, `aioecs.errors` every
exception, `aioecs.serde` the model <-> wire JSON converter and `aioecs.testing` the LocalECS
emulator for tests. Inside an ECS task, `task_metadata()`, `container_metadata()` and
`protect_task()` talk to the ECS agent (loaded on first use).
"""

import importlib
from typing import TYPE_CHECKING

from ._credentials import CredentialProvider, Credentials, RefreshableCredentialProvider
from ._deploy import Rollout, RolloutResult
from ._exceptions import ECSError, ValidationError
from ._families import task_family
from ._fanout import TaskStream
from ._fleet import FleetFailure, FleetStream, FleetTask, iter_fleet_tasks
from ._jobs import Cause, Job, JobResult, TaskOutcome
from ._observe import AttemptEvent, CallEvent, Hook
from ._retry import RetryStrategy
from ._transport import AiohttpTransport, HttpRequest, HttpResponse, MockTransport, Transport
from ._watch import TaskChange, TaskWatch
from .client import ECSClient

if TYPE_CHECKING:
    from ._protection import TaskProtection, TaskProtectionState, protect_task
    from ._task_metadata import (
        ContainerMetadata,
        ContainerNetwork,
        ContainerPort,
        ResourceLimits,
        TaskMetadata,
        container_metadata,
        task_metadata,
    )

BOTOCORE_VERSION: str = ECSClient._service.botocore_version
"""The botocore release whose ECS model the client's methods and models were generated from."""

# The one place the version is written: pyproject.toml reads it from here (hatch).
__version__ = "0.1.0"

__all__ = [
    "BOTOCORE_VERSION",
    "AiohttpTransport",
    "AttemptEvent",
    "CallEvent",
    "Cause",
    "ContainerMetadata",
    "ContainerNetwork",
    "ContainerPort",
    "CredentialProvider",
    "Credentials",
    "ECSClient",
    "ECSError",
    "FleetFailure",
    "FleetStream",
    "FleetTask",
    "Hook",
    "HttpRequest",
    "HttpResponse",
    "Job",
    "JobResult",
    "MockTransport",
    "RefreshableCredentialProvider",
    "ResourceLimits",
    "RetryStrategy",
    "Rollout",
    "RolloutResult",
    "TaskChange",
    "TaskMetadata",
    "TaskOutcome",
    "TaskProtection",
    "TaskProtectionState",
    "TaskStream",
    "TaskWatch",
    "Transport",
    "ValidationError",
    "container_metadata",
    "iter_fleet_tasks",
    "protect_task",
    "task_family",
    "task_metadata",
]

# Code that runs inside a task (the agent's endpoints), loaded on first use.
_IN_TASK = {
    "ContainerMetadata": "._task_metadata",
    "ContainerNetwork": "._task_metadata",
    "ContainerPort": "._task_metadata",
    "ResourceLimits": "._task_metadata",
    "TaskMetadata": "._task_metadata",
    "container_metadata": "._task_metadata",
    "task_metadata": "._task_metadata",
    "TaskProtection": "._protection",
    "TaskProtectionState": "._protection",
    "protect_task": "._protection",
}


def __getattr__(name: str) -> object:
    module = _IN_TASK.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
