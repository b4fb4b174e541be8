"""Every exception aioecs raises, under one root, `AioECSError`.

A failed call is a `CallError`: either ECS (or a proxy in front of it) answered with an error,
an `ECSError` (each error the ECS model declares has its own subclass, generated;
`ThrottlingException` when the quota stayed spent; `ResponseError` for an answer that is not
what the protocol promises), or no answer came, a `TransportError` (`DeadlineExceeded` when
the call's deadline cut it). `ClientClosedError` ends what was in flight when the client
closed. `ValidationError` is raised before a bad request leaves the machine; `WaiterError`
when a waiter gives up; `ConfigError` and `CredentialsError` when the client cannot be set up.
"""

from ._config import ConfigError, InvalidEndpointError, NoRegionError
from ._credentials import CredentialsError, NoCredentialsError
from ._exceptions import (
    AioECSError,
    CallError,
    ClientClosedError,
    DeadlineExceeded,
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
    "AioECSError",
    "CallError",
    "ClientClosedError",
    "ConfigError",
    "CredentialsError",
    "DeadlineExceeded",
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
