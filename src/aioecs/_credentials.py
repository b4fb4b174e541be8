"""AWS credentials: the value type, and (to come) the resolution chain and refresh."""

from __future__ import annotations

from datetime import datetime

import attrs


@attrs.frozen(kw_only=True, repr=False)
class Credentials:
    """A set of AWS credentials. Its repr never shows the secret or the token."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    expiry: datetime | None = None

    def __repr__(self) -> str:
        return f"Credentials(access_key_id={self.access_key_id!r}, secret_access_key=***, " + (
            "session_token=***" if self.session_token else "session_token=None"
        ) + f", expiry={self.expiry!r})"
