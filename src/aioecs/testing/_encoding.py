"""Response bodies: JSON encoded once, with cached fragments spliced in verbatim.

The model keeps each task's encoded JSON (:class:`RawJSON`) until the task changes, so the
hot answers (DescribeTasks, ListTasks pages) are joins of bytes rather than re-encodings.
"""

from __future__ import annotations

import json
from typing import Any

JSON = dict[str, Any]

_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def json_bytes(value: object) -> bytes:
    """``value`` as compact UTF-8 JSON, the form of every emulator answer."""
    return _encoder(value).encode()


class RawJSON(bytes):
    """Already-encoded JSON (UTF-8), spliced verbatim into a response by :func:`encode`."""


def encode(response: JSON) -> bytes:
    """A response dict as a UTF-8 JSON body. A value may be a list of :class:`RawJSON` fragments
    (cached task JSON): DescribeTasks of 100 tasks then costs one join instead of re-encoding
    100 nested dicts, which dominated its cost. Pieces are joined once, with no large
    intermediate copies."""
    pieces = [b"{"]
    for key, value in response.items():
        if len(pieces) > 1:
            pieces.append(b",")
        pieces.append(json_bytes(key))
        if isinstance(value, list) and value and isinstance(value[0], RawJSON):
            pieces += (b":[", b",".join(value), b"]")
        else:
            pieces += (b":", json_bytes(value))
    pieces.append(b"}")
    return b"".join(pieces)


def wire_time(ms: int) -> float:
    """Epoch milliseconds -> the wire form: epoch seconds with a millisecond fraction."""
    return ms / 1000
