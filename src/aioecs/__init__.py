"""aioecs: a typed, async client for Amazon ECS.

`ECSClient` is the client; `aioecs.models` holds the typed models, `aioecs.errors` every
exception, `aioecs.serde` the model <-> wire JSON converter and `aioecs.testing` the LocalECS
emulator for tests. Inside an ECS task, `task_metadata()`, `container_metadata()` and
`protect_task()` talk to the ECS agent.

The names below load on first use (PEP 562): `import aioecs` costs next to nothing, so a
program that imports it lazily does not stall its event loop for the client's modules.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._credentials import CredentialProvider, Credentials, RefreshableCredentialProvider
    from ._deploy import Rollout, RolloutResult
    from ._exceptions import ECSError, ValidationError
    from ._families import task_family
    from ._fanout import TaskStream
    from ._fleet import FleetFailure, FleetStream, FleetTask, iter_fleet_tasks
    from ._jobs import Cause, Job, JobResult, TaskOutcome
    from ._observe import AttemptEvent, CallEvent, Hook
    from ._protection import TaskProtection, TaskProtectionState, protect_task
    from ._retry import RetryStrategy
    from ._task_metadata import (
        ContainerMetadata,
        ContainerNetwork,
        ContainerPort,
        ResourceLimits,
        TaskMetadata,
        container_metadata,
        task_metadata,
    )
    from ._transport import AiohttpTransport, HttpRequest, HttpResponse, MockTransport, Transport
    from ._watch import TaskChange, TaskWatch
    from .client import ECSClient

    BOTOCORE_VERSION: str
    """The botocore release whose ECS model the client's methods and models were generated
    from."""

# The one place the version is written: pyproject.toml reads it from here (hatch).
__version__ = "0.1.0"

# Each public name and the module that defines it.
_HOMES = {
    "CredentialProvider": "_credentials",
    "Credentials": "_credentials",
    "RefreshableCredentialProvider": "_credentials",
    "Rollout": "_deploy",
    "RolloutResult": "_deploy",
    "ECSError": "_exceptions",
    "ValidationError": "_exceptions",
    "task_family": "_families",
    "TaskStream": "_fanout",
    "FleetFailure": "_fleet",
    "FleetStream": "_fleet",
    "FleetTask": "_fleet",
    "iter_fleet_tasks": "_fleet",
    "Cause": "_jobs",
    "Job": "_jobs",
    "JobResult": "_jobs",
    "TaskOutcome": "_jobs",
    "AttemptEvent": "_observe",
    "CallEvent": "_observe",
    "Hook": "_observe",
    "TaskProtection": "_protection",
    "TaskProtectionState": "_protection",
    "protect_task": "_protection",
    "RetryStrategy": "_retry",
    "ContainerMetadata": "_task_metadata",
    "ContainerNetwork": "_task_metadata",
    "ContainerPort": "_task_metadata",
    "ResourceLimits": "_task_metadata",
    "TaskMetadata": "_task_metadata",
    "container_metadata": "_task_metadata",
    "task_metadata": "_task_metadata",
    "AiohttpTransport": "_transport",
    "HttpRequest": "_transport",
    "HttpResponse": "_transport",
    "MockTransport": "_transport",
    "Transport": "_transport",
    "TaskChange": "_watch",
    "TaskWatch": "_watch",
    "ECSClient": "client",
}


def __getattr__(name: str) -> Any:
    if name == "BOTOCORE_VERSION":
        value: Any = import_module(f"{__name__}._generated.operations").SERVICE.botocore_version
    elif name in _HOMES:
        value = getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return [*__all__, "__version__"]


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
