"""Every exception aioecs raises, under one root, `AioECSError`.

A failed call is a `CallError`: either ECS (or a proxy in front of it) answered with an error,
an `ECSError` (each error the ECS model declares has its own subclass, generated;
`ThrottlingException` when the quota stayed spent; `ResponseError` for an answer that is not
what the protocol promises), or no answer came, a `TransportError` (`DeadlineExceeded` when
the call's deadline cut it). `ClientClosedError` ends what was in flight when the client
closed. `ValidationError` is raised before a bad request leaves the machine; `WaiterError`
when a waiter gives up; `JobStartError` when a job's tasks started only in part;
`ConfigError` and `CredentialsError` when the client cannot be set up; `ExecError` and its
subclasses when ECS Exec's data channel fails. Inside a task, a call to the ECS agent (task
metadata, scale-in protection) that fails is an `AgentError`.
"""

from ._config import ConfigError, InvalidEndpointError, NoRegionError
from ._credentials import CredentialsError, NoCredentialsError
from ._exceptions import (
    AgentError,
    AioECSError,
    CallError,
    ClientClosedError,
    DeadlineExceeded,
    ECSError,
    ExecChannelClosed,
    ExecError,
    ExecNotSupported,
    ExecProtocolError,
    ExecTimeout,
    JobStartError,
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
    "AgentError",
    "AioECSError",
    "CallError",
    "ClientClosedError",
    "ConfigError",
    "CredentialsError",
    "DeadlineExceeded",
    "ECSError",
    "ExecChannelClosed",
    "ExecError",
    "ExecNotSupported",
    "ExecProtocolError",
    "ExecTimeout",
    "InvalidEndpointError",
    "JobStartError",
    "NoCredentialsError",
    "NoRegionError",
    "ResponseError",
    "ThrottlingException",
    "TransportError",
    "ValidationError",
    "WaiterError",
    *_modeled,
]
