"""The few response forms LocalECS writes, shared by the request path and fault injection.

AWS JSON 1.1: a JSON body with ``Content-Type: application/x-amz-json-1.1`` and an
``x-amzn-RequestId`` on every answer the service itself gives; errors are ``{"__type", "message"}``
with the code repeated in ``x-amzn-ErrorType``. :func:`reset` is the one answer that is not a
response at all.
"""

from __future__ import annotations

import contextlib
import socket
import struct

from aiohttp import web

from ._encoding import encode
from ._errors import ErrorAnswer

TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
CONTENT_TYPE = "application/x-amz-json-1.1"
_LINGER_ZERO = struct.pack("ii", 1, 0)


def json_response(body: bytes, request_id: str) -> web.Response:
    """A successful answer: the encoded result, as ECS sends it."""
    return web.Response(
        body=body, headers={"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": request_id}
    )


def error_response(error: ErrorAnswer, request_id: str) -> web.Response:
    """An ECS error: ``{"__type": code, "message": ...}`` (no message member if it is empty)."""
    body = (
        {"__type": error.code, "message": error.message}
        if error.message
        else {"__type": error.code}
    )
    return web.Response(
        status=error.status,
        body=encode(body),
        headers={
            "Content-Type": CONTENT_TYPE,
            "x-amzn-RequestId": request_id,
            "x-amzn-ErrorType": error.code,
        },
    )


def reset(request: web.BaseRequest) -> web.StreamResponse:
    """Drop the request's TCP connection with a RST, before any byte of a response is sent.

    ``SO_LINGER`` 0 makes the close a reset (``ECONNRESET`` on the client) rather than an orderly
    FIN, like a load balancer or NAT dropping the flow. The returned response is never sent:
    aiohttp finds the transport gone and quietly forgets the request.
    """
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
        transport.abort()
    return web.Response()
