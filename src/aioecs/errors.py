"""Every exception aioecs raises.

`ECSError` is the root of what the service answers; each error the ECS model declares has its
own subclass (generated). `TransportError` is a request or answer lost on the network,
`ResponseError` an answer that is not what the protocol promises. `ValidationError` is raised
before a bad request leaves the machine; `WaiterError` when a waiter gives up.
"""

from ._config import ConfigError, InvalidEndpointError, NoRegionError
from ._credentials import CredentialsError, NoCredentialsError
from ._exceptions import (
    ECSError,
    ResponseError,
    ThrottlingException,
    TransportError,
    ValidationError,
    WaiterError,
)
from ._generated.errors import *  # noqa: F403
from ._generated.errors import MODELED_ERRORS
from ._generated.errors import __all__ as _modeled

__all__ = [
    "MODELED_ERRORS",
    "ConfigError",
    "CredentialsError",
    "ECSError",
    "InvalidEndpointError",
    "NoCredentialsError",
    "NoRegionError",
    "ResponseError",
    "ThrottlingException",
    "TransportError",
    "ValidationError",
    "WaiterError",
    *_modeled,
]
