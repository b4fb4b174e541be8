"""What an error response becomes: the modeled class, with code, message, request id, status."""

from __future__ import annotations

import pickle
from collections.abc import Mapping

import pytest

from aioecs import _protocol
from aioecs.errors import (
    MODELED_ERRORS,
    ClientException,
    ClusterNotFoundException,
    ECSError,
    ServerException,
)

HEADERS = {"x-amzn-RequestId": "0f9c3b1e-0000-4000-8000-000000000001"}


def _parse_error(status: int, headers: Mapping[str, str], body: bytes) -> ECSError:
    return _protocol.parse_error(status, headers, body, MODELED_ERRORS)


@pytest.mark.parametrize(
    "type_field",
    [
        "ClusterNotFoundException",
        "com.amazonaws.ecs#ClusterNotFoundException",
        "ClusterNotFoundException:http://internal.amazon.com/coral/com.amazonaws.ecs/",
        "aws.ecs#ClusterNotFoundException:http://internal",
    ],
)
def test_type_prefix_and_suffix_are_stripped(type_field: str) -> None:
    body = b'{"__type": "%s", "message": "Cluster not found."}' % type_field.encode()
    error = _parse_error(400, HEADERS, body)
    assert type(error) is ClusterNotFoundException
    assert (error.code, error.message, error.status) == (
        "ClusterNotFoundException",
        "Cluster not found.",
        400,
    )
    assert error.request_id == HEADERS["x-amzn-RequestId"]
    assert str(error) == (
        "ClusterNotFoundException: Cluster not found. "
        "(HTTP 400, request id 0f9c3b1e-0000-4000-8000-000000000001)"
    )


def test_capitalised_message_and_server_fault() -> None:
    error = _parse_error(500, HEADERS, b'{"__type":"ServerException","Message":"boom"}')
    assert isinstance(error, ServerException) and error.message == "boom"


def test_unknown_code_raises_the_base_class() -> None:
    error = _parse_error(400, HEADERS, b'{"__type":"BrandNewException","message":"x"}')
    assert type(error) is ECSError and error.code == "BrandNewException"


def test_html_page_from_a_proxy_is_an_ecs_error_with_status() -> None:
    page = b"<html><head><style>h1 {}</style></head><body><h1>502 Bad Gateway</h1></body></html>"
    error = _parse_error(502, {}, page)
    assert type(error) is ECSError
    assert (error.status, error.code) == (502, "HTTP502")
    assert "<html>" not in str(error)
    assert error.message == f"non-JSON error response ({len(page)} bytes): 502 Bad Gateway"


def test_non_json_excerpt_is_short_and_has_no_control_characters() -> None:
    body = b"\n \r\n<p>Upstream \x1b[2Jreset &amp; gone\x07 " + b"x" * 500 + b"</p>\nsecond line"
    error = _parse_error(503, {}, body)
    excerpt = error.message.split(": ", 1)[1]
    assert excerpt.startswith("Upstream [2Jreset & gone xxx")
    assert len(excerpt) == 200
    assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in error.message)
    assert "second line" not in error.message
    empty = _parse_error(502, {}, b"<html></html>")
    assert empty.message == "non-JSON error response (13 bytes)"


def test_the_error_type_header_wins_over_the_body() -> None:
    from multidict import CIMultiDict

    headers = CIMultiDict({"X-Amzn-Errortype": "ClusterNotFoundException:http://x/#frag"})
    body = b'{"code": "ServerException", "__type": "ClientException", "message": "m"}'
    error = _parse_error(400, headers, body)
    assert type(error) is ClusterNotFoundException and error.message == "m"
    error = _parse_error(400, {}, body)  # then the body's code, then __type
    assert type(error) is ServerException
    error = _parse_error(400, {}, b'{"__type": "aws.ecs#ClientException:http://a/#b"}')
    assert type(error) is ClientException


def test_truncated_json_error_body() -> None:
    error = _parse_error(400, HEADERS, b'{"__type":"ClientExcep')
    assert type(error) is ECSError and error.status == 400


def test_every_modeled_error_subclasses_ecs_error_and_pickles() -> None:
    assert issubclass(ClientException, ECSError)
    assert len(MODELED_ERRORS) >= 20
    for code, cls in MODELED_ERRORS.items():
        error = cls("m", code=code, request_id="r", status=400)
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is cls and (again.code, again.request_id) == (code, "r")
