"""aioecs: a typed, async client for Amazon ECS.

`ECSClient` is the client; `aioecs.models` holds the typed models, `aioecs.errors` every
exception, `aioecs.serde` the model <-> wire JSON converter and `aioecs.testing` the LocalECS
emulator for tests.
"""

from ._credentials import CredentialProvider, Credentials, RefreshableCredentialProvider
from ._exceptions import ECSError, ValidationError
from ._fanout import TaskStream
from ._fleet import FleetFailure, FleetStream, FleetTask, iter_fleet_tasks
from ._observe import AttemptEvent, CallEvent, Hook
from ._retry import RetryStrategy
from ._transport import AiohttpTransport, HttpRequest, HttpResponse, MockTransport, Transport
from ._watch import TaskChange, TaskWatch
from .client import ECSClient

BOTOCORE_VERSION: str = ECSClient._service.botocore_version
"""The botocore release whose ECS model the client's methods and models were generated from."""

# The one place the version is written: pyproject.toml reads it from here (hatch).
__version__ = "0.1.0"

__all__ = [
    "BOTOCORE_VERSION",
    "AiohttpTransport",
    "AttemptEvent",
    "CallEvent",
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
    "MockTransport",
    "RefreshableCredentialProvider",
    "RetryStrategy",
    "TaskChange",
    "TaskStream",
    "TaskWatch",
    "Transport",
    "ValidationError",
    "iter_fleet_tasks",
]
