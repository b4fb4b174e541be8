"""Reading a request: its typed members, page sizes and paging tokens.

botocore validates types on the client side, but the emulator also serves our own client (and
any other), so a wrongly typed member gets the SerializationException a real endpoint would
answer with, and a malformed value the InvalidParameterException.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from ._encoding import JSON
from ._errors import ErrorAnswer, invalid

NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,255}$")
"""Cluster names and task definition families."""
MAX_DESCRIBE = 100
"""Describe* operations accept at most this many names or ARNs."""
_MAX_PAGE = 100


def _type_error(name: str, expected: str) -> ErrorAnswer:
    return ErrorAnswer("SerializationException", f"Member '{name}' must be of type {expected}.")


def string(p: JSON, name: str) -> str | None:
    v = p.get(name)
    if v is None or isinstance(v, str):
        return v
    raise _type_error(name, "string")


def integer(p: JSON, name: str) -> int | None:
    v = p.get(name)
    if v is None or (isinstance(v, int) and not isinstance(v, bool)):
        return v
    raise _type_error(name, "integer")


def boolean(p: JSON, name: str) -> bool:
    v = p.get(name)
    if v is None or isinstance(v, bool):
        return bool(v)
    raise _type_error(name, "boolean")


def _list_of(p: JSON, name: str, kind: type[Any], what: str) -> list[Any]:
    v = p.get(name)
    if v is None:
        return []
    if isinstance(v, list) and all(isinstance(x, kind) for x in v):
        return v
    raise _type_error(name, f"list of {what}")


def string_list(p: JSON, name: str) -> list[str]:
    return _list_of(p, name, str, "strings")


def structure(p: JSON, name: str) -> JSON:
    v = p.get(name)
    if v is None:
        return {}
    if isinstance(v, dict):
        return v
    raise _type_error(name, "structure")


def structure_list(p: JSON, name: str) -> list[JSON]:
    return _list_of(p, name, dict, "structures")


def tag_list(p: JSON) -> list[JSON]:
    tags = structure_list(p, "tags")
    if len(tags) > 50:
        raise invalid("The number of tags exceeds the limit of 50.")
    out = []
    for t in tags:
        key = t.get("key")
        if not isinstance(key, str) or not key:
            raise invalid("Tag keys must be non-empty strings.")
        out.append({"key": key, "value": str(t.get("value", ""))})
    return out


def encode_token(kind: str, after: int) -> str:
    """An opaque paging token: where the previous page ended, for one kind of listing."""
    raw = json.dumps({"v": 1, "k": kind, "after": after}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_token(kind: str, token: str | None) -> int | None:
    if token is None:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if isinstance(data, dict) and data.get("k") == kind:
            after = data.get("after")
            if isinstance(after, int) and not isinstance(after, bool):
                return after
    except (ValueError, binascii.Error):
        pass
    raise invalid("Invalid nextToken.")


def page_size(p: JSON) -> int:
    n = integer(p, "maxResults")
    if n is None:
        return _MAX_PAGE
    if not 1 <= n <= _MAX_PAGE:
        raise invalid("maxResults must be between 1 and 100.")
    return n
