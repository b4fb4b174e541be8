"""aioecs: a typed, async client for Amazon ECS.

`ECSClient` is the client; `aioecs.models` holds the typed models, `aioecs.errors` every
exception, `aioecs.serde` the model <-> wire JSON converter and `aioecs.testing` the LocalECS
emulator for tests.

The names below load on first use (PEP 562): `import aioecs` costs next to nothing, so a
program that imports it lazily does not stall its event loop for the client's modules.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._credentials import CredentialProvider, Credentials, RefreshableCredentialProvider
    from ._exceptions import ECSError, ValidationError
    from ._fanout import TaskStream
    from ._fleet import FleetFailure, FleetStream, FleetTask, iter_fleet_tasks
    from ._observe import AttemptEvent, CallEvent, Hook
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
    "ECSError": "_exceptions",
    "ValidationError": "_exceptions",
    "TaskStream": "_fanout",
    "FleetFailure": "_fleet",
    "FleetStream": "_fleet",
    "FleetTask": "_fleet",
    "iter_fleet_tasks": "_fleet",
    "AttemptEvent": "_observe",
    "CallEvent": "_observe",
    "Hook": "_observe",
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
    "TaskChange",
    "TaskStream",
    "TaskWatch",
    "Transport",
    "ValidationError",
    "iter_fleet_tasks",
]
