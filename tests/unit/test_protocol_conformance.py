"""The published awsJson1_1 protocol tests, run against the runtime's own functions.

Data: `tests/protocol_cases/botocore_{output,input}_json.json`, botocore's
`tests/unit/protocols/{output,input}/json.json` (generated from Smithy's
smithy-aws-protocol-tests awsJson1_1 model), copied unchanged; origin, commit and licence in
`tests/protocol_cases/README.md`.

The cases use their own test shapes, not ECS's, so a small adapter builds attrs classes from
each suite's shapes (members named by their wire names) and runs them through what a real call
uses: `_protocol.parse_body` and `serde.decode` for outputs, `serde.build_request`,
`serde.encode` and `_protocol.encode_body` for inputs, and error responses through an
`ECSClient` call to a loopback server that answers with the case's status, headers and body.
Cases that test what ECS's model never has are skipped, each with its reason (`SKIPPED`).
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiohttp import web
from multidict import CIMultiDict

from aioecs import Credentials, ECSClient, _protocol, serde
from aioecs._config import resolve_config
from aioecs.errors import ECSError

CASES = Path(__file__).parents[1] / "protocol_cases"

_NO_BLOBS = "ECS's model has no blob members"
SKIPPED = {
    # outputs
    "parses_blob_shapes": _NO_BLOBS,
    "AwsJson11DeserializeBlobUnionValue": _NO_BLOBS,
    "parses_httpdate_timestamps": "ECS timestamps are epoch seconds; no ECS shape uses http-date",
    # inputs
    "serializes_blob_shapes": _NO_BLOBS,
    "AwsJson11SerializeBlobUnionValue": _NO_BLOBS,
    "serializes_string_shapes_with_jsonvalue_trait": "ECS's model has no jsonvalue members",
    "serializes_timestamp_shapes_with_iso8601_timestampformat": (
        "ECS's model has no timestampFormat: aioecs always sends epoch seconds"
    ),
    "serializes_timestamp_shapes_with_httpdate_timestampformat": (
        "ECS's model has no timestampFormat: aioecs always sends epoch seconds"
    ),
    "serializes_structure_members_with_locationname_traits": (
        "wire names come from each model's generated descriptor (tests/test_codegen.py)"
    ),
    "AwsJson11EndpointTrait": "ECS operations have no endpoint (host prefix) trait",
    "AwsJson11EndpointTraitWithHostLabel": "ECS operations have no endpoint (host prefix) trait",
    "SDKAppliedContentEncoding_awsJson1_1": "ECS operations have no requestCompression trait",
    "SDKAppendsGzipAndIgnoresHttpProvidedEncoding_awsJson1_1": (
        "ECS operations have no requestCompression trait"
    ),
    # Validation refuses non-finite numbers before encoding (see the report in _validate).
    "AwsJson11SupportsNaNFloatInputs": "validation refuses non-finite request numbers",
    "AwsJson11SupportsInfinityFloatInputs": "validation refuses non-finite request numbers",
    "AwsJson11SupportsNegativeInfinityFloatInputs": "validation refuses non-finite request numbers",
}


def _load(name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    suites = json.loads((CASES / name).read_text())
    return [(suite, case) for suite in suites for case in suite["cases"]]


def _params(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[Any]:
    return [
        pytest.param(
            suite,
            case,
            id=case["id"],
            marks=[pytest.mark.skip(reason=SKIPPED[case["id"]])] if case["id"] in SKIPPED else [],
        )
        for suite, case in pairs
    ]


OUTPUTS = _load("botocore_output_json.json")
INPUTS = _load("botocore_input_json.json")


# -- the adapter: attrs classes for a suite's shapes --------------------------------------------

_SCALARS = {
    "string": "str",
    "integer": "int",
    "long": "int",
    "float": "float",
    "double": "float",
    "boolean": "bool",
    "timestamp": "datetime",
    "document": "Any",
}


def _models(shapes: dict[str, Any]) -> dict[str, type[Any]]:
    """One attrs class per structure, every member optional and named by its wire name."""

    def annotation(shape_name: str) -> str:
        shape = shapes[shape_name]
        kind = shape["type"]
        if shape.get("document"):
            return "Any"
        if kind == "structure":
            return shape_name
        if kind == "list":
            return f"list[{annotation(shape['member']['shape'])}]"
        if kind == "map":
            return f"dict[str, {annotation(shape['value']['shape'])}]"
        return _SCALARS.get(kind, "Any")

    namespace: dict[str, Any] = {"Any": Any, "datetime": datetime, "Optional": Any}
    classes: dict[str, type[Any]] = {}
    for name, shape in shapes.items():
        if shape["type"] == "structure" and not shape.get("document"):
            members = {
                member: attrs.field(default=None, type=f"{annotation(ref['shape'])} | None")
                for member, ref in shape.get("members", {}).items()
            }
            classes[name] = namespace[name] = attrs.make_class(name, members)
    for cls in classes.values():
        attrs.resolve_types(cls, globalns=namespace)
    return classes


def _plain(value: Any) -> Any:
    """A decoded value in the cases' notation: no None members, timestamps as epoch seconds,
    non-finite floats as the strings JSON carries them as."""
    if attrs.has(type(value)):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in attrs.fields(type(value))
            if getattr(value, f.name) is not None
        }
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# -- outputs --------------------------------------------------------------------------------


def _output_cases() -> list[Any]:
    return _params([(s, c) for s, c in OUTPUTS if "error" not in c])


@pytest.mark.parametrize(("suite", "case"), _output_cases())
def test_output(suite: dict[str, Any], case: dict[str, Any]) -> None:
    response = case["response"]
    output = case["given"].get("output", {}).get("shape")
    cls = _models(suite["shapes"])[output] if output else attrs.make_class("Empty", {})
    reply = _protocol.Reply(response.get("body", "").encode(), None)
    decoded = serde.decode(cls, _protocol.parse_body(reply))
    assert _plain(decoded) == case["result"]
    request_id = response["headers"].get("X-Amzn-Requestid")
    if request_id is not None:
        assert _protocol.request_id(CIMultiDict(response["headers"])) == request_id


# -- errors, through a client call to a loopback server ------------------------------------------


@pytest.fixture(scope="module")
def error_cases() -> list[Any]:
    return [case for _, case in OUTPUTS if "error" in case]


@pytest.fixture
async def answering() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A server answering every request with the response in the list's first case."""
    current: list[dict[str, Any]] = []

    async def answer(request: web.Request) -> web.StreamResponse:
        response = current[0]["response"]
        return web.Response(
            status=response["status_code"],
            headers=response.get("headers", {}),
            body=response.get("body", "").encode(),
        )

    app = web.Application()
    app.router.add_post("/", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", current
    finally:
        await runner.cleanup()


async def test_errors(
    answering: tuple[str, list[dict[str, Any]]], error_cases: list[dict[str, Any]]
) -> None:
    url, current = answering
    creds = Credentials(access_key_id="AKID", secret_access_key="secret")
    checked = []
    async with ECSClient(
        region="us-east-1", endpoint_url=url, credentials=creds, max_attempts=1
    ) as ecs:
        for case in error_cases:
            current[:] = [case]
            with pytest.raises(ECSError) as caught:
                await ecs.list_clusters()
            error = caught.value
            assert (error.code, error.status) == (
                case["errorCode"],
                case["response"]["status_code"],
            ), case["id"]
            message = case["error"].get("Message") or case["error"].get("message")
            if message is not None:
                assert error.message == message, case["id"]
            checked.append(case["id"])
    assert len(checked) == 12  # every error case of the suite


# -- inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("suite", "case"), _params(INPUTS))
async def test_input(suite: dict[str, Any], case: dict[str, Any]) -> None:
    serialized = case["serialized"]
    operation = case["given"]["name"]
    headers = _protocol.request_headers(ECSClient._service.target_prefix, operation, "example.com")
    assert headers["content-type"] == serialized["headers"]["Content-Type"]
    assert headers["x-amz-target"].endswith("." + operation)
    if "host" in serialized:  # a custom endpoint with a path
        resolved = await resolve_config(
            region="us-east-1", endpoint_url=f"https://{serialized['host']}", credentials=None
        )
        assert resolved.path == serialized["uri"]
    else:
        assert serialized["uri"] == "/"
    input_shape = case["given"].get("input", {}).get("shape")
    if input_shape is None:
        body = _protocol.encode_body({})
    else:
        cls = _models(suite["shapes"])[input_shape]
        request = serde.build_request(operation, cls, case["params"])
        body = _protocol.encode_body(serde.encode(request))
    if "body" in serialized:
        assert json.loads(body) == json.loads(serialized["body"])
