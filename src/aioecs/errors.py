"""Every exception aioecs raises.

`ECSError` is the root of what the service answers; each error the ECS model declares has its
own subclass (generated). `ValidationError` is raised before a bad request leaves the machine.
"""

from ._exceptions import ECSError, ResponseError, ValidationError, WaiterError
from ._modeled_errors import *  # noqa: F403
from ._modeled_errors import MODELED_ERRORS
from ._modeled_errors import __all__ as _modeled

__all__ = [
    "ECSError",
    "MODELED_ERRORS",
    "ResponseError",
    "ValidationError",
    "WaiterError",
    *_modeled,
]
