"""AWS JSON 1.1: the bytes and headers of a request, and what a response means.

Every ECS call is `POST /` with `X-Amz-Target: <prefix>.<Operation>` and a JSON body; errors
come back as 4xx/5xx with `{"__type": ..., "message": ...}` and the request id in a header.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple
from urllib.parse import unquote

from ._exceptions import ECSError, ResponseError


def _first_loads(body: bytes) -> Any:
    """The first parse picks the parser for the rest, and imports it then rather than with
    `import aioecs`: orjson (the `fast` extra, which parses a page of 100 described tasks
    about twice as fast) when it is installed, else `json.loads`."""
    global _loads
    loads: Callable[[bytes], Any]
    try:
        from orjson import loads
    except ImportError:  # pragma: no cover - without the extra
        loads = json.loads
    _loads = loads
    return loads(body)


_loads: Callable[[bytes], Any] = _first_loads

CONTENT_TYPE = "application/x-amz-json-1.1"
_XML_CODE = re.compile(rb"<Code>([^<]{1,200})</Code>")
_XML_MESSAGE = re.compile(rb"<Message>([^<]{0,2000})</Message>")
_REQUEST_ID_HEADERS = ("x-amzn-RequestId", "x-amzn-requestid", "x-amz-request-id")
# AWS's request ids are UUIDs: hex digits and dashes hold no secret's name nor an Authorization
# value, so such an id skips `redact` (a dozen regular expressions on every answer).
_PLAIN_ID = re.compile(r"[0-9A-Fa-f-]{1,128}")


def request_headers(target_prefix: str, operation: str, host: str) -> dict[str, str]:
    """The unsigned headers of a call; the signer adds date, token and authorization.
    `target_prefix` is the service's (`ServiceSpec.target_prefix`)."""
    return {
        "host": host,
        "content-type": CONTENT_TYPE,
        "x-amz-target": f"{target_prefix}.{operation}",
    }


encode_json: Callable[[Any], str] = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode
"""Wire JSON as text: compact and unescaped, as ECS counts characters (see `_validate`); never
`NaN` or `Infinity`, which are not JSON (a ValueError instead)."""


def encode_body(wire: Any) -> bytes:
    return encode_json(wire).encode()


def request_id(headers: Mapping[str, str]) -> str | None:
    """The request id AWS gave a response; redacted, as what answered may not be AWS."""
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value if _PLAIN_ID.fullmatch(value) else redact(value)
    return None


class Reply(NamedTuple):
    """A successful response: the body as received, the request id for error reports, and
    the body's JSON once parsed (`parsed`)."""

    body: bytes
    request_id: str | None
    data: Any = None


def parsed(body: bytes, request_id: str | None) -> Reply:
    """A successful response with its JSON parsed. A body that is not JSON (cut short on the
    way) is a `ResponseError`, never a bare JSONDecodeError, so that the attempt that got it
    fails and can be retried like any answer lost on the network."""
    if not body:
        return Reply(body, request_id, {})
    try:
        return Reply(body, request_id, _loads(body))
    except ValueError:
        raise ResponseError(
            f"response is not JSON ({len(body)} bytes)",
            code="InvalidResponse",
            request_id=request_id,
            status=200,
        ) from None


def parse_body(reply: Reply) -> Any:
    """The JSON of a successful response."""
    if reply.data is not None:
        return reply.data
    return parsed(reply.body, reply.request_id).data


def not_the_model(what: str, exc: BaseException, request_id: str | None = None) -> ResponseError:
    """The error for JSON that parsed but does not fit the model, wherever it is decoded."""
    return ResponseError(
        f"{what} does not match the model: {type(exc).__name__}",
        code="InvalidResponse",
        request_id=request_id,
        status=200,
    )


def parse_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    modeled: Mapping[str, type[ECSError]],
    secrets: Iterable[str | None] = (),
) -> ECSError:
    """The exception for an error response: the class `modeled` gives for its code (the
    service's `ServiceSpec.errors`), else `ECSError`. Whatever the response echoes of the
    request is `redact`ed from it, `secrets` (the credentials in use) included."""
    secrets = tuple(secrets)
    rid = request_id(headers)
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        data = None
    if not isinstance(data, dict):
        xml_code = _XML_CODE.search(body)
        if xml_code:
            # Some front ends (and emulators) answer auth failures in the query protocol's XML.
            xml_message = _XML_MESSAGE.search(body)
            code = xml_code.group(1).decode(errors="replace")
            message = xml_message.group(1).decode(errors="replace") if xml_message else ""
            cls = modeled.get(code, ECSError)
            message = redact(_unescape(message), secrets)
            return cls(message, code=redact(code, secrets), request_id=rid, status=status)
        # A proxy or load balancer answered (an HTML 502 page): keep the status, and of the
        # page only a short excerpt of its text, which usually says who answered and why.
        excerpt = _excerpt(body, secrets)
        code = _error_code(headers.get("x-amzn-ErrorType"))
        return modeled.get(code, ECSError)(
            f"non-JSON error response ({len(body)} bytes)" + (f": {excerpt}" if excerpt else ""),
            code=redact(code, secrets) or f"HTTP{status}",
            request_id=rid,
            status=status,
        )
    # The smithy awsJson1_1 rule: the X-Amzn-Errortype header first, then the body's `code`,
    # then `__type` (see tests/protocol_cases).
    code = _error_code(headers.get("x-amzn-ErrorType") or data.get("code") or data.get("__type"))
    message = data.get("message") or data.get("Message") or data.get("errorMessage") or ""
    cls = modeled.get(code, ECSError)
    message = redact(str(message), secrets)
    return cls(
        message, code=redact(code, secrets) or f"HTTP{status}", request_id=rid, status=status
    )


_EXCERPT_MAX = 200
_HIDDEN_ELEMENTS = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _excerpt(body: bytes, secrets: tuple[str | None, ...]) -> str:
    """The first non-empty line of a non-JSON body's text: tags stripped, entities decoded,
    control characters removed (they could forge log lines or drive a terminal), at most
    200 characters, and secrets redacted: before the tags go (a table's cells name a header
    and hold its value) and after the entities are decoded, and before it is cut short."""
    text = redact(body[:4096].decode("utf-8", errors="replace"), secrets)
    text = text.replace(REDACTED, "&lt;redacted&gt;")  # not a tag: it must stay
    text = _TAG.sub("\n", _HIDDEN_ELEMENTS.sub("\n", text))
    for line in _unescape(text).splitlines():
        line = " ".join(_CONTROL.sub(" ", line).split())
        if line:
            return redact(line, secrets)[:_EXCERPT_MAX]
    return ""


# What a proxy, WAF or debug gateway may echo of a signed request, in whichever form it echoes
# it: a header dict (JSON, nested JSON, a Python repr), `Name: value` lines, `Name=value`, a
# URL's query (`X-Amz-Signature=`), URL-encoded or HTML-escaped text, an HTML table.
_SECRET_NAME = (
    r"[\w-]*?(?:security[-_]?token|session[-_]?token|authorization|signature|credentials?"
    r"|secret[-_]?(?:access[-_]?)?key)"
)
_QUOTE = r"""(?:\s|["'\\]|&quot;|&apos;|&#0*3[49];|&#x0*2[27];|%2[027]|%5c)"""
# One `:`, `=` or tag (a table's cells), then any quotes, blanks and tags; each alternative
# starts with its own character, so a failed match backtracks in linear time.
_TAG_SEPARATOR = r"<(?!redacted>)[^<>]{0,200}>"
_SEPARATOR = rf"{_QUOTE}*(?:[:=]|%3[ad]|{_TAG_SEPARATOR})(?:{_QUOTE}|{_TAG_SEPARATOR})*"
_NAMED_SECRET = re.compile(
    rf"""((?<![\w-]){_SECRET_NAME}(?![\w-]){_SEPARATOR})[^\s"'<>&,;\\)\]}}]+""",
    re.IGNORECASE,
)
# An Authorization value whole: `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
# Signature=...` (or a presigned URL's query from its algorithm to its signature).
_AUTHORIZATION = re.compile(
    r"""AWS4-HMAC-SHA256(?:[^"'<>\r\n\\]{0,2000}?signature(?:=|%3d)[0-9a-f]*"""
    r"""|[^"'<>\r\n\\]{0,2000})""",
    re.IGNORECASE,
)
REDACTED = "<redacted>"


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` without the secrets a signed request carries, for an exception, a log line or a
    repr: the canonical request AWS appends to signature errors, `Authorization` values,
    signatures and anything named a token, a credential or a secret key (see `_NAMED_SECRET`),
    and every literal of `secrets` (the credentials in use), plain or encoded.

    Text that still hides one once percent-decoded and HTML-unescaped (an echo encoded twice)
    is given decoded, so that what is left of it can be read and nothing of the secret is."""
    known = sorted((s for s in secrets if s and len(s) >= 8), key=len, reverse=True)
    clean = _redacted(text, known)
    decoded = clean
    for _ in range(3):
        decoded, before = unquote(_unescape(decoded)), decoded
        if decoded == before:
            break
    if decoded != clean:
        plain = _redacted(decoded, known)
        if plain != decoded:
            return plain
    return clean


def _unescape(text: str) -> str:
    """HTML entities decoded; `html` is imported only for text that has one (an error page),
    not for the request id of every answer."""
    if "&" not in text:
        return text
    import html

    return html.unescape(text)


def _redacted(text: str, secrets: list[str]) -> str:
    cut = text.find("The Canonical String for this request")
    if cut != -1:
        text = text[:cut].rstrip() + " (canonical request omitted)"
    text = _AUTHORIZATION.sub(REDACTED, text)
    text = _NAMED_SECRET.sub(rf"\1{REDACTED}", text)
    for secret in secrets:  # the longest first: a token may hold the key
        text = _literal(secret).sub(REDACTED, text)
    return text


def _literal(secret: str) -> re.Pattern[str]:
    """`secret` as written, JSON-escaped (`\\/`) or percent-encoded (`%2F`, `%2f`)."""
    parts = (
        re.escape(c) if c.isalnum() else rf"(?:\\?{re.escape(c)}|%{ord(c):02x})" for c in secret
    )
    return re.compile("".join(parts), re.IGNORECASE)


def _error_code(raw: object) -> str:
    # "aws.ecs#ClusterNotFoundException:http://internal.amazon.com/coral/..." -> the shape name.
    # Split on ":" first: the URI suffix may itself contain a "#".
    text = str(raw or "").split(":", 1)[0]
    return text.rsplit("#", 1)[-1].strip()
