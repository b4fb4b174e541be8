"""What an error response becomes: the modeled class, with code, message, request id, status."""

from __future__ import annotations

import json
import pickle
from collections.abc import Mapping

import pytest
from multidict import CIMultiDict

from aioecs import ECSClient, _protocol
from aioecs._exceptions import ResponseError
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


# -- every branch of error parsing, and what never reaches a message ---------------------------


def _headers(**values: str) -> CIMultiDict[str]:
    return CIMultiDict({name.replace("_", "-"): value for name, value in values.items()})


@pytest.mark.parametrize("member", ["message", "Message", "errorMessage"])
def test_each_message_member_is_read(member: str) -> None:
    body = json.dumps({"__type": "ClientException", member: "said so"}).encode()
    assert _parse_error(400, {}, body).message == "said so"


def test_the_body_code_is_read_without_type_and_no_code_names_the_status() -> None:
    error = _parse_error(400, {}, b'{"code": "ClusterNotFoundException"}')
    assert type(error) is ClusterNotFoundException and error.message == ""
    error = _parse_error(418, {}, b'{"message": "who knows"}')
    assert type(error) is ECSError
    assert (error.code, error.message, error.status) == ("HTTP418", "who knows", 418)
    empty = _parse_error(503, {}, b"")  # an empty body is an empty JSON error
    assert (empty.code, empty.message) == ("HTTP503", "")


def test_the_error_type_header_names_a_non_json_error() -> None:
    headers = _headers(X_Amzn_ErrorType="ServerException:http://internal/")
    error = _parse_error(500, headers, b"<html><body>Internal error</body></html>")
    assert type(error) is ServerException and error.code == "ServerException"
    assert error.message == "non-JSON error response (40 bytes): Internal error"


def test_json_that_is_not_an_object_is_a_non_json_error() -> None:
    error = _parse_error(502, {}, b'["Bad Gateway"]')
    assert (type(error), error.code) == (ECSError, "HTTP502")
    assert error.message == 'non-JSON error response (15 bytes): ["Bad Gateway"]'


def test_an_xml_error_keeps_its_code_and_message() -> None:
    body = (
        b'<?xml version="1.0"?><ErrorResponse><Error><Type>Sender</Type>'
        b"<Code>ClusterNotFoundException</Code><Message>Cluster &quot;x&quot; not found."
        b"</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
    )
    error = _parse_error(400, HEADERS, body)
    assert type(error) is ClusterNotFoundException
    assert (error.code, error.message, error.status) == (
        "ClusterNotFoundException",
        'Cluster "x" not found.',
        400,
    )
    assert error.request_id == HEADERS["x-amzn-RequestId"]
    unknown = _parse_error(403, {}, b"<Error><Code>AccessDenied</Code></Error>")
    assert (type(unknown), unknown.code, unknown.message) == (ECSError, "AccessDenied", "")


_CANONICAL = (
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details.\n\nThe Canonical String for this request should have been\n'POST\n/\n\n"
    "host:ecs.us-east-1.amazonaws.com\nx-amz-security-token:IQoJb3JpZ2luX2VjEXAMPLETOKEN\n'"
)
_REDACTED = (
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details. (canonical request omitted)"
)


def test_signature_errors_never_carry_the_canonical_request_or_the_token() -> None:
    body = json.dumps({"__type": "InvalidSignatureException", "message": _CANONICAL}).encode()
    error = _parse_error(403, {}, body)
    assert error.message == _REDACTED
    xml = (
        "<Error><Code>SignatureDoesNotMatch</Code><Message>"
        + _CANONICAL.replace("'", "&apos;")
        + "</Message></Error>"
    ).encode()
    assert _parse_error(403, {}, xml).message == _REDACTED
    html_page = b"<html><body>Denied x-amz-security-token: IQoJSECRET</body></html>"
    assert _parse_error(403, {}, html_page).message.endswith(
        ": Denied x-amz-security-token: <redacted>"
    )
    line = b'{"message": "bad X-Amz-Security-Token=IQoJSECRET here"}'
    assert _parse_error(400, {}, line).message == ("bad X-Amz-Security-Token=<redacted> here")


def test_the_excerpt_skips_scripts_and_blank_lines() -> None:
    page = (
        b"<html><head><script>var token = 'x';\nalert(1)</script>"
        b"<STYLE type='text/css'>p {}</STYLE></head>\n\n<body>  <p>Service\t Unavailable</p>"
        b"</body></html>"
    )
    error = _parse_error(503, {}, page)
    assert error.message == f"non-JSON error response ({len(page)} bytes): Service Unavailable"
    assert _parse_error(502, {}, b"\xc2\x85\xe2\x80\xa8 \x07\n").message == (
        "non-JSON error response (8 bytes)"
    )


def test_request_id_headers_in_order_of_preference() -> None:
    both = {"x-amzn-RequestId": "first", "x-amz-request-id": "second"}
    assert _protocol.request_id(both) == "first"
    assert _protocol.request_id({"x-amzn-requestid": "lower"}) == "lower"
    assert _protocol.request_id({"x-amzn-RequestId": "", "x-amz-request-id": "s3"}) == "s3"
    assert _protocol.request_id({}) is None


def test_a_request_is_compact_unescaped_json_with_its_target() -> None:
    assert _protocol.encode_body({"cluster": "prod", "tags": [{"key": "é€"}]}) == (
        '{"cluster":"prod","tags":[{"key":"é€"}]}'.encode()
    )
    prefix = ECSClient._service.target_prefix
    assert _protocol.request_headers(prefix, "ListTasks", "ecs.us-east-1.amazonaws.com") == {
        "host": "ecs.us-east-1.amazonaws.com",
        "content-type": "application/x-amz-json-1.1",
        "x-amz-target": "AmazonEC2ContainerServiceV20141113.ListTasks",
    }


def test_non_json_success_body_is_a_typed_error() -> None:
    with pytest.raises(ResponseError) as caught:
        _protocol.parse_body(_protocol.Reply(b"<html>oops</html>", "rid-1"))
    error = caught.value
    assert (error.code, error.status, error.request_id) == ("InvalidResponse", 200, "rid-1")
    assert error.message == "response is not JSON (17 bytes)"
    # Parsed bodies are read as they are; an empty one is an empty answer.
    assert _protocol.parse_body(_protocol.Reply(b'{"a":1}', None)) == {"a": 1}
    assert _protocol.parse_body(_protocol.Reply(b"", None)) == {}
    assert _protocol.parse_body(_protocol.Reply(b"ignored", None, {"b": 2})) == {"b": 2}


def test_json_that_does_not_fit_the_model_is_a_typed_error() -> None:
    error = _protocol.not_the_model("ListTasks response", KeyError("taskArns"), "rid-9")
    assert isinstance(error, ResponseError)
    assert error.message == "ListTasks response does not match the model: KeyError"
    assert (error.code, error.status, error.request_id) == ("InvalidResponse", 200, "rid-9")
    assert _protocol.not_the_model("x", ValueError()).request_id is None


def test_wire_json_is_compact_and_unescaped() -> None:
    assert _protocol.encode_json({"a": ["é", 1, None], "b": {}}) == '{"a":["é",1,null],"b":{}}'
    reply = _protocol.parsed(b'{"a": [1]}', "rid")
    assert reply == _protocol.Reply(b'{"a": [1]}', "rid", {"a": [1]})
    assert _protocol.parsed(b"", "rid") == _protocol.Reply(b"", "rid", {})


def test_undecodable_bytes_in_an_error_are_replaced() -> None:
    xml = b"<Error><Code>Bad\xffCode</Code><Message>caf\xe9</Message></Error>"
    error = _parse_error(403, {}, xml)
    assert (error.code, error.message) == ("Bad\ufffdCode", "caf\ufffd")
    page = b"<p>Bad \xff gateway</p>"
    error = _parse_error(502, _headers(x_amzn_RequestId="rid-7"), page)
    assert error.message == "non-JSON error response (20 bytes): Bad \ufffd gateway"
    assert error.request_id == "rid-7"


def test_only_the_first_4096_bytes_of_a_page_are_read() -> None:
    body = b"\n" * 4096 + b"late"
    assert _parse_error(502, {}, body).message == "non-JSON error response (4100 bytes)"


def test_the_canonical_request_is_cut_at_its_first_mention() -> None:
    tail = "The Canonical String for this request should have been"
    message = f"Bad. {tail} A. {tail} B."
    body = json.dumps({"__type": "InvalidSignatureException", "message": message})
    error = _parse_error(403, {}, body.encode())
    assert error.message == "Bad. (canonical request omitted)"


def test_the_error_code_is_the_last_name_after_a_hash() -> None:
    error = _parse_error(400, {}, b'{"__type": "aws#ecs#ClientException"}')
    assert error.code == "ClientException"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("8d7b7a3e-3b8f-4a4e-9f57-0c1b2c3d4e5f", "8d7b7a3e-3b8f-4a4e-9f57-0c1b2c3d4e5f"),
        # What answered is not always AWS: an id that is not a UUID is redacted like a body.
        ("AWS4-HMAC-SHA256 Credential=AKID/x, Signature=abc123", "<redacted>"),
        ("rid X-Amz-Security-Token=FQoGZXIvYXdzEJr", "rid X-Amz-Security-Token=<redacted>"),
    ],
)
def test_a_request_id_is_redacted_unless_it_is_a_uuid(header: str, expected: str) -> None:
    assert _protocol.request_id({"x-amzn-RequestId": header}) == expected
