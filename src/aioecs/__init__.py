"""aioecs: a typed, async client for Amazon ECS."""

from ._credentials import Credentials
from ._exceptions import ECSError, ValidationError
from ._operations import BOTOCORE_VERSION
from .client import ECSClient

__version__ = "0.1.0"

__all__ = ["BOTOCORE_VERSION", "Credentials", "ECSClient", "ECSError", "ValidationError"]
