"""A proxy, WAF or debug gateway that echoes the signed request in its 403 must not get the
session token, the secret key or the signature into an exception, a traceback, a DEBUG log
record, a hook event or a repr, in whatever form it echoes them (issue 24, finding 1)."""

from __future__ import annotations

import asyncio
import html
import json
import logging
import traceback
from typing import Any
from urllib.parse import quote, quote_plus

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aioecs import (
    AttemptEvent,
    CallEvent,
    Credentials,
    ECSClient,
    HttpRequest,
    HttpResponse,
    MockTransport,
)
from aioecs.errors import ECSError

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
SECRET_NAMES = ("aws_secret_access_key", "SecretAccessKey", "AWS_SECRET_ACCESS_KEY", "secret-key")

# How one `name`/`value` pair may be echoed.
PAIRS = (
    "{n}: {v}",
    "{n}:{v}",
    "{n}={v}",
    "{n} = {v}",
    '"{n}": "{v}"',
    "'{n}': '{v}'",
    "<td>{n}</td><td>{v}</td>",
    "<b>{n}:</b> {v}",
    "<dt>{n}</dt>\n<dd>{v}</dd>",
    "{n}%3D{v}",
    '["{n}", "{v}"]',
    "{v}",
)
JOINS = ("\n", ", ", "&", "; ", "<br>", " ")


@st.composite
def echoes(draw: st.DrawFn, headers: dict[str, str], secret: str) -> str:
    """The request's headers (and the secret key, by some name or bare) as an echo."""
    pairs = dict(headers)
    pairs[draw(st.sampled_from(SECRET_NAMES))] = secret
    case = draw(st.sampled_from((str, str.lower, str.upper, str.title)))
    shape = draw(st.sampled_from(("pairs", "json", "python")))
    encode = draw(st.sampled_from((str, lambda v: quote(v, safe=""), quote_plus)))
    if shape == "pairs":
        template = draw(st.sampled_from(PAIRS))
        text = draw(st.sampled_from(JOINS)).join(
            template.format(n=case(n), v=encode(v)) for n, v in pairs.items()
        )
    elif shape == "json":
        text = json.dumps({case(n): encode(v) for n, v in pairs.items()})
        for _ in range(draw(st.integers(0, 2))):  # a dict within a JSON string, nested
            text = json.dumps({"headers": text})
    else:
        text = repr({case(n): encode(v) for n, v in pairs.items()})
    if draw(st.booleans()):
        text = quote(text, safe="") if draw(st.booleans()) else html.escape(text)
    before = draw(st.sampled_from(("", "Request blocked. ", "echo:\n", "<p>Denied</p>")))
    return before + text


def _bodies(text: str) -> dict[str, tuple[dict[str, str], bytes]]:
    return {
        "json": ({}, json.dumps({"__type": "AccessDeniedException", "message": text}).encode()),
        "json Message": ({}, json.dumps({"code": "Forbidden", "Message": text}).encode()),
        "xml": (
            {},
            f"<Error><Code>AccessDenied</Code><Message>{html.escape(text)}</Message></Error>".encode(),
        ),
        "html": ({}, f"<html><body>{text}</body></html>".encode()),
        "text": ({"x-amzn-ErrorType": "Forbidden"}, text.encode()),
    }


class Recorder:
    def __init__(self) -> None:
        self.events: list[AttemptEvent | CallEvent] = []

    def on_attempt(self, event: AttemptEvent) -> None:
        self.events.append(event)

    def on_call(self, event: CallEvent) -> None:
        self.events.append(event)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record) + repr(record.args))


def _forbidden(*secrets: str) -> list[str]:
    """Each secret, its encodings, and every 16-character piece of it."""
    found = ["AWS4-HMAC-SHA256"]
    for secret in secrets:
        found += [secret, quote(secret, safe=""), quote_plus(secret)]
        found += [secret[i : i + 16] for i in range(len(secret) - 15)]
    return found


async def _echoed_call(
    token: str, secret: str, draw: Any, where: str
) -> tuple[ECSError, list[str], list[str]]:
    seen: dict[str, str] = {}

    def handler(request: HttpRequest) -> HttpResponse:
        seen.update((name.lower(), value) for name, value in request.headers.items())
        seen["repr"] = repr(request)
        text = draw(echoes(dict(request.headers), secret))
        headers, body = _bodies(text)[where]
        return HttpResponse(403, {"x-amzn-RequestId": "rid-1", **headers}, body)

    credentials = Credentials(
        access_key_id="AKIDECHOTEST", secret_access_key=secret, session_token=token
    )
    recorder, records = Recorder(), Records()
    logger = logging.getLogger()
    logger.addHandler(records)
    level, logger.level = logger.level, logging.DEBUG
    try:
        async with ECSClient(
            region="us-east-1", credentials=credentials, transport=MockTransport(handler),
            hooks=[recorder], max_attempts=1, rate_limits=False,
        ) as ecs:  # fmt: skip
            with pytest.raises(ECSError) as caught:
                await ecs.list_clusters()
    finally:
        logger.removeHandler(records)
        logger.setLevel(level)
    signature = seen["authorization"].rpartition("Signature=")[2]
    events = [repr(e) + repr(attrs.asdict(e)) for e in recorder.events]
    assert len(events) == 2
    shown = events + records.lines + [seen["repr"]]
    return caught.value, shown, _forbidden(token, secret, signature)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    token=st.text(_B64, min_size=24, max_size=120).map(lambda t: "IQoJb3JpZ2luX2Vj" + t),
    secret=st.text(_B64, min_size=40, max_size=40),
    where=st.sampled_from(("json", "json Message", "xml", "html", "text")),
    data=st.data(),
)
def test_no_secret_echoed_by_a_403_reaches_errors_logs_hooks_or_reprs(
    token: str, secret: str, where: str, data: st.DataObject
) -> None:
    error, shown, forbidden = asyncio.run(_echoed_call(token, secret, data.draw, where))
    assert error.status == 403
    texts = {
        "str": str(error),
        "repr": repr(error),
        "traceback": "".join(traceback.format_exception(error)),
        "elsewhere": "\n".join(shown),
    }
    for name, text in texts.items():
        for piece in forbidden:
            assert piece not in text, f"{piece!r} leaked in {name}: {text[:2000]}"


def test_a_signed_request_repr_shows_no_signature_token_or_body() -> None:
    request = HttpRequest(
        "POST",
        "https://ecs.us-east-1.amazonaws.com/?X-Amz-Signature=0123abcd",
        {
            "x-amz-target": "AmazonEC2ContainerServiceV20141113.ListTasks",
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ecs/"
            "aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd",
            "X-Amz-Security-Token": "IQoJTOKEN",
        },
        b'{"overrides": "DB_PASSWORD=hunter2"}',
    )
    text = repr(request) + str(request) + f"{request}"
    for secret in ("0123abcd", "IQoJTOKEN", "AKID/", "hunter2"):
        assert secret not in text
    assert "ListTasks" in text and "<36 bytes>" in text
    assert request.operation == "ListTasks"


def test_a_response_echoing_the_request_has_a_redacted_repr() -> None:
    response = HttpResponse(
        403,
        {"x-echo": "X-Amz-Security-Token=IQoJTOKEN"},
        b'{"Authorization": "AWS4-HMAC-SHA256 Credential=A/b, Signature=ff"}',
    )
    assert "IQoJTOKEN" not in repr(response) and "Signature=ff" not in repr(response)
    assert repr(response).startswith("HttpResponse(status=403, ")


def test_redaction_keeps_the_text_around_a_secret() -> None:
    from aioecs._protocol import redact

    assert redact('{"Authorization": "AWS4-HMAC-SHA256 Credential=A/b, Signature=ff"}') == (
        '{"Authorization": "<redacted>"}'
    )
    assert redact("(x-amz-security-token=abc) [Signature: ff]") == (
        "(x-amz-security-token=<redacted>) [Signature: <redacted>]"
    )
    # Prose that only mentions a signature or a token is left alone.
    prose = "The request signature we calculated does not match the signature you provided."
    assert redact(prose) == prose
    assert redact("Signature expired: 20260101T000000Z is now earlier") == (
        "Signature expired: 20260101T000000Z is now earlier"
    )
