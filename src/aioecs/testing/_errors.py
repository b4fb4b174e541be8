"""The emulator's error answers: what ECS says when it refuses a request.

An :class:`ErrorAnswer` is not a failure of the emulator but its reply - a ``__type`` code,
a message and an HTTP status that ``_wire.error_response`` puts on the wire. Named apart from
the client's ``aioecs.ECSError``, which is what a client raises on receiving one.
"""

from __future__ import annotations

from collections.abc import Iterable


class ErrorAnswer(Exception):
    """An ECS error response: ``__type`` code, human message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def invalid(message: str) -> ErrorAnswer:
    return ErrorAnswer("InvalidParameterException", message)


def cluster_not_found() -> ErrorAnswer:
    return ErrorAnswer("ClusterNotFoundException", "Cluster not found.")


def enum_error(member: str, value: object, allowed: Iterable[str]) -> ErrorAnswer:
    # The wording of AWS's (Coral) model validation errors.
    return invalid(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: Member must satisfy enum value set: [{', '.join(allowed)}]"
    )
