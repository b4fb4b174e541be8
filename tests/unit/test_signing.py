"""Tests for aioecs._signing: the aws-c-auth SigV4 suite, and botocore's signer as a reference."""

from __future__ import annotations

import copy
import json
import os
import pickle
import traceback
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import MultiDict

from aioecs._credentials import Credentials
from aioecs._signing import SigV4Signer

UTC = timezone.utc

# --------------------------------------------------------------------------------------------
# 1. The aws-c-auth "v4" test suite (see /work/shared/sigv4-testsuite/README.md)
# --------------------------------------------------------------------------------------------

_SHARED = Path(os.environ.get("AIOECS_SHARED_DIR") or Path(__file__).parents[3] / "shared")
SUITE = _SHARED / "sigv4-testsuite" / "v4"
CASES = (
    sorted(p.name for p in SUITE.iterdir() if (p / "request.txt").is_file())
    if SUITE.is_dir()
    else []
)
_ABSENT = pytest.param(
    None, marks=pytest.mark.skip(reason=f"SigV4 test suite not found at {SUITE}")
)
_CASE_PARAMS: list[Any] = list(CASES) or [_ABSENT]


def _read(case: str, name: str) -> str:
    return (SUITE / case / name).read_bytes().decode("utf-8")


def _parse_headers(lines: list[str]) -> MultiDict[str]:
    """``Name:value`` lines, continuation lines (leading whitespace) folded in with ``\\n``."""
    pairs: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            name, value = pairs[-1]
            pairs[-1] = (name, f"{value}\n{line}")
        else:
            name, _, value = line.partition(":")
            pairs.append((name, value))
    return MultiDict(pairs)


def _parse_request(text: str) -> tuple[str, str, str, MultiDict[str], bytes]:
    """(method, path, query, headers, body) of a request.txt / *-signed-request.txt."""
    head, sep, body = text.partition("\n\n")
    request_line, *header_lines = head.rstrip("\n").split("\n")
    method, rest = request_line.split(" ", 1)
    target = rest.rsplit(" ", 1)[0]  # the path may contain spaces
    path, _, query = target.partition("?")
    return method, path, query, _parse_headers(header_lines), body.encode() if sep else b""


def _context(case: str) -> tuple[Credentials, datetime, dict[str, Any]]:
    ctx: dict[str, Any] = json.loads(_read(case, "context.json"))
    creds = ctx["credentials"]
    credentials = Credentials(
        access_key_id=creds["access_key_id"],
        secret_access_key=creds["secret_access_key"],
        session_token=creds.get("token"),
    )
    now = datetime.strptime(ctx["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert ctx["region"] == "us-east-1" and ctx["service"] == "service"
    assert ctx["expiration_in_seconds"] == 3600
    return credentials, now, ctx


def test_suite_is_complete() -> None:
    if not CASES:
        pytest.skip(f"SigV4 test suite not found at {SUITE}")
    assert len(CASES) == 38, CASES


def _case_arguments(case: str) -> tuple[dict[str, Any], dict[str, Any], MultiDict[str]]:
    """The signing arguments both kinds of signing take for a case, its context, its headers."""
    credentials, now, ctx = _context(case)
    method, path, query, headers, body = _parse_request(_read(case, "request.txt"))
    kwargs: dict[str, Any] = dict(
        method=method,
        path=path,
        query=query,
        headers=headers,
        body=body,
        credentials=credentials,
        now=now,
        normalize_path=bool(ctx["normalize"]),
        omit_session_token=bool(ctx.get("omit_session_token", False)),
    )
    return kwargs, ctx, headers


@pytest.mark.parametrize("case", _CASE_PARAMS)
def test_suite_header_signing(case: str) -> None:
    kwargs, ctx, headers = _case_arguments(case)
    kwargs["sign_body"] = bool(ctx["sign_body"])
    signer = SigV4Signer("us-east-1", "service")
    sent, canonical_request, string_to_sign = signer._sign(**kwargs)

    assert canonical_request == _read(case, "header-canonical-request.txt")
    assert string_to_sign == _read(case, "header-string-to-sign.txt")
    signature = _read(case, "header-signature.txt")
    assert sent["Authorization"].endswith(f", Signature={signature}")

    # The headers the signer adds, byte for byte, against the expected signed request
    # (which lists the original headers first, then the added ones).
    expected = _parse_headers(
        _read(case, "header-signed-request.txt").split("\n\n")[0].split("\n")[1:]
    )
    expected_added = {k.lower(): v for k, v in list(expected.items())[len(headers) :]}
    original = {k.lower() for k in headers}
    ours_added = {k.lower(): v for k, v in sent.items() if k.lower() not in original}
    assert ours_added == expected_added
    assert "authorization" in expected_added
    # The public method gives the same as the one that exposes the intermediate texts.
    assert signer.sign(**kwargs) == sent
    # The original headers are all still there (repeats merged with ",").
    for name in headers:
        assert sent[name] == ",".join(headers.getall(name))


# --------------------------------------------------------------------------------------------
# 2. Differential against botocore's SigV4Auth for real ECS requests at a frozen time
# --------------------------------------------------------------------------------------------

ECS_CONTENT_TYPE = "application/x-amz-json-1.1"
ECS_TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+token/value=="

ECS_OPERATIONS: list[tuple[str, object]] = [
    ("ListTasks", {"cluster": "default", "maxResults": 100, "desiredStatus": "RUNNING"}),
    (
        "DescribeTasks",
        {
            "cluster": "clüster-名前-🚀",
            "tasks": ["arn:aws:ecs:us-east-1:123456789012:task/ç/0f1e2d3c4b5a"],
            "include": ["TAGS"],
        },
    ),
    (
        "StartTask",
        {
            "cluster": "prod",
            "taskDefinition": "web:42",
            "containerInstances": ["arn:aws:ecs:eu-west-1:123456789012:container-instance/x"],
            "overrides": {"containerOverrides": [{"name": "app", "command": ["sh", "-c", "é"]}]},
            "startedBy": "aioecs",
        },
    ),
    ("ListClusters", {}),
]
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1"]
TIMES = [
    datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2024, 3, 1, 0, 0, 0, tzinfo=UTC),  # the next day: a new signing key
    datetime(2015, 8, 30, 12, 36, 0, 1, tzinfo=UTC),
]


def _ecs_headers(host: str, operation: str) -> dict[str, str]:
    return {
        "Host": host,
        "Content-Type": ECS_CONTENT_TYPE,
        "X-Amz-Target": ECS_TARGET_PREFIX + operation,
    }


def _botocore_sign(
    *,
    region: str,
    operation: str,
    body: bytes,
    access_key: str,
    secret_key: str,
    token: str | None,
    now: datetime,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """Sign with botocore, its clock frozen at ``now``.

    botocore 1.43 reads the time in ``SigV4Auth.add_auth`` through
    ``botocore.auth.get_current_datetime`` (imported from ``botocore.compat``), which returns
    a naive UTC datetime; that name is what is patched. No Host header is given: botocore
    takes it from the URL, as for a real client.
    """
    headers = {"Content-Type": ECS_CONTENT_TYPE, "X-Amz-Target": ECS_TARGET_PREFIX + operation}
    headers.update(extra or {})
    request = AWSRequest(
        method="POST", url=f"https://ecs.{region}.amazonaws.com/", headers=headers, data=body
    )
    frozen = now.astimezone(UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=frozen) as clock:
        SigV4Auth(BotoCredentials(access_key, secret_key, token), "ecs", region).add_auth(request)
    assert clock.called
    return dict(request.headers.items())


def _ours_sign(
    signer: SigV4Signer,
    *,
    operation: str,
    body: bytes,
    access_key: str,
    secret_key: str,
    token: str | None,
    now: datetime,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    headers = _ecs_headers(f"ecs.{signer.region}.amazonaws.com", operation)
    headers.update(extra or {})
    return signer.sign(
        method="POST",
        path="/",
        query="",
        headers=headers,
        body=body,
        credentials=Credentials(
            access_key_id=access_key, secret_access_key=secret_key, session_token=token
        ),
        now=now,
    )


_SIGNER_ADDED = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")


@pytest.mark.parametrize("token", [None, TOKEN], ids=["no-token", "token"])
@pytest.mark.parametrize("region", REGIONS)
def test_matches_botocore_for_ecs_requests(region: str, token: str | None) -> None:
    signer = SigV4Signer(region, "ecs")  # one signer across times: the key cache is exercised
    for now in TIMES:
        for operation, params in ECS_OPERATIONS:
            body = json.dumps(params, ensure_ascii=False).encode()
            args: dict[str, Any] = dict(
                operation=operation,
                body=body,
                access_key=AK,
                secret_key=SK,
                token=token,
                now=now,
            )
            theirs = _botocore_sign(region=region, **args)
            ours = _ours_sign(signer, **args)
            for name in _SIGNER_ADDED:
                assert ours.get(name) == theirs.get(name), (operation, now, name)
            assert ("X-Amz-Security-Token" in ours) == (token is not None)
            assert ours["X-Amz-Date"] == now.strftime("%Y%m%dT%H%M%SZ")
            expected_signed = "content-type;host;x-amz-date;" + (
                "x-amz-security-token;x-amz-target" if token else "x-amz-target"
            )
            assert f"SignedHeaders={expected_signed}," in ours["Authorization"]


def test_matches_botocore_with_unsigned_and_untrimmed_headers() -> None:
    """User-Agent and X-Amzn-Trace-Id are sent but not signed; values are trimmed."""
    extra = {
        "User-Agent": "aioecs/0.1 botocore/1.43",
        "X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793",
        "X-Custom": "  a \t  b   c  ",
    }
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    args: dict[str, Any] = dict(
        operation="ListTasks", body=b"{}", access_key=AK, secret_key=SK, token=TOKEN, now=now
    )
    theirs = _botocore_sign(region="us-west-2", extra=extra, **args)
    ours = _ours_sign(SigV4Signer("us-west-2", "ecs"), extra=extra, **args)
    assert ours["Authorization"] == theirs["Authorization"]
    assert "user-agent" not in ours["Authorization"]
    assert ours["User-Agent"] == extra["User-Agent"]


# --------------------------------------------------------------------------------------------
# 3. Property: ours == botocore's for random ECS requests
# --------------------------------------------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
_bodies = st.one_of(
    _json_values.map(lambda v: json.dumps(v, ensure_ascii=False).encode()),
    st.binary(max_size=2048),
)
_regions = st.sampled_from(REGIONS) | st.from_regex(r"[a-z]{2}-[a-z]{4,9}-[1-9]", fullmatch=True)
_operations = st.from_regex(r"[A-Z][A-Za-z]{0,40}", fullmatch=True)
_access_keys = st.from_regex(r"(AKIA|ASIA)[A-Z0-9]{16}", fullmatch=True)
_secret_keys = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=64)
_tokens = st.none() | st.from_regex(r"[A-Za-z0-9+/]{1,600}={0,2}", fullmatch=True)
_times = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2099, 12, 31, 23, 59, 59),
    timezones=st.just(UTC),
)
_extra_headers = st.dictionaries(
    st.from_regex(r"X-Test-[A-Za-z0-9-]{1,20}", fullmatch=True),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.just("\t"), max_size=40),
    max_size=3,
)


@settings(max_examples=300, deadline=None)
@given(
    region=_regions,
    operation=_operations,
    body=_bodies,
    access_key=_access_keys,
    secret_key=_secret_keys,
    token=_tokens,
    now=_times,
    extra=_extra_headers,
)
def test_property_matches_botocore(
    region: str,
    operation: str,
    body: bytes,
    access_key: str,
    secret_key: str,
    token: str | None,
    now: datetime,
    extra: dict[str, str],
) -> None:
    args: dict[str, Any] = dict(
        operation=operation,
        body=body,
        access_key=access_key,
        secret_key=secret_key,
        token=token,
        now=now,
        extra=extra,
    )
    theirs = _botocore_sign(region=region, **args)
    ours = _ours_sign(SigV4Signer(region, "ecs"), **args)
    for name in _SIGNER_ADDED:
        assert ours.get(name) == theirs.get(name), name


# --------------------------------------------------------------------------------------------
# Behaviour details
# --------------------------------------------------------------------------------------------

CREDS = Credentials(access_key_id=AK, secret_access_key=SK, session_token=TOKEN)
NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)


def _sign_ecs(signer: SigV4Signer, **overrides: Any) -> dict[str, str]:
    kwargs: dict[str, Any] = dict(
        method="POST",
        path="/",
        query="",
        headers=_ecs_headers("ecs.us-east-1.amazonaws.com", "ListTasks"),
        body=b"{}",
        credentials=CREDS,
        now=NOW,
    )
    kwargs.update(overrides)
    return signer.sign(**kwargs)


def test_input_headers_are_not_modified_and_resigning_replaces_stale_headers() -> None:
    signer = SigV4Signer("us-east-1", "ecs")
    headers = _ecs_headers("ecs.us-east-1.amazonaws.com", "ListTasks")
    before = dict(headers)
    first = _sign_ecs(signer, headers=headers)
    assert headers == before
    assert set(first) == set(headers) | {"X-Amz-Date", "X-Amz-Security-Token", "Authorization"}
    # A retry passes the previous attempt's headers (any case) back in.
    stale = {k.lower(): v for k, v in first.items()}
    later = NOW + timedelta(seconds=30)
    again = _sign_ecs(signer, headers=stale, now=later)
    fresh = _sign_ecs(signer, now=later)
    assert again["Authorization"] == fresh["Authorization"] != first["Authorization"]
    assert {k for k in again if k.lower() == "authorization"} == {"Authorization"}


def test_time_zones_and_date_cache() -> None:
    signer = SigV4Signer("us-east-1", "ecs")
    base = _sign_ecs(signer)
    plus_two = timezone(timedelta(hours=2))
    assert _sign_ecs(signer, now=NOW.astimezone(plus_two)) == base
    assert _sign_ecs(signer, now=NOW + timedelta(microseconds=999_999)) == base
    one_later = _sign_ecs(signer, now=NOW + timedelta(seconds=1))
    assert one_later["X-Amz-Date"] == "20240601T120001Z"
    assert _sign_ecs(signer, now=NOW - timedelta(microseconds=1))["X-Amz-Date"] == (
        "20240601T115959Z"
    )
    assert _sign_ecs(signer) == base
    end_of_time = datetime.max.replace(tzinfo=UTC)
    assert _sign_ecs(signer, now=end_of_time)["X-Amz-Date"] == "99991231T235959Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        _sign_ecs(signer, now=NOW.replace(tzinfo=None))


def test_signing_key_cache_is_per_secret_and_day_and_bounded() -> None:
    signer = SigV4Signer("us-east-1", "ecs")
    other_secret = Credentials(access_key_id=AK, secret_access_key=SK + "x")
    for day in range(40):
        now = NOW + timedelta(days=day)
        for creds in (CREDS, other_secret):
            fresh = _sign_ecs(SigV4Signer("us-east-1", "ecs"), now=now, credentials=creds)
            assert _sign_ecs(signer, now=now, credentials=creds) == fresh
        assert len(signer._keys) <= 16
    a = _sign_ecs(signer)["Authorization"]
    b = _sign_ecs(signer, credentials=other_secret)["Authorization"]
    assert a.rsplit("=", 1)[1] != b.rsplit("=", 1)[1]


def test_host_is_required_and_matched_in_any_case() -> None:
    signer = SigV4Signer("us-east-1", "ecs")
    with pytest.raises(ValueError, match="Host"):
        _sign_ecs(signer, headers={"Content-Type": ECS_CONTENT_TYPE})
    lower = _sign_ecs(signer, headers={"host": "ecs.us-east-1.amazonaws.com"})
    upper = _sign_ecs(signer, headers={"HOST": "ecs.us-east-1.amazonaws.com"})
    assert lower["Authorization"] == upper["Authorization"]


def test_generic_path_and_query_canonicalisation() -> None:
    signer = SigV4Signer("us-east-1", "service")
    creds = Credentials(access_key_id="AK", secret_access_key="SK")

    def canonical(path: str, query: str, normalize: bool = True) -> list[str]:
        _, creq, _ = signer._sign(
            "get", path, query, {"Host": "h"}, b"", creds, NOW, normalize, False, False
        )
        return creq.split("\n")[:3]

    assert canonical("", "") == ["GET", "/", ""]
    assert canonical("/a/./b/../../c//d/", "") == ["GET", "/c/d/", ""]
    assert canonical("/../..", "") == ["GET", "/", ""]
    assert canonical("/a/%2F b", "") == ["GET", "/a/%252F%20b", ""]
    assert canonical("/a//b/../", "", normalize=False) == ["GET", "/a//b/../", ""]
    assert canonical("/", "b=2&a=&c&a=1&&%7E=%41+") == ["GET", "/", "a=&a=1&b=2&c=&~=A%2B"]
    assert canonical("/", "k=%FF%e2%82%ac") == ["GET", "/", "k=%FF%E2%82%AC"]


# --------------------------------------------------------------------------------------------
# 4. No secret in a repr, a pickle or an exception
# --------------------------------------------------------------------------------------------


def _assert_no_secret(text: str | bytes, signature: str = "") -> None:
    data = text.encode() if isinstance(text, str) else text
    for secret in (SK, TOKEN, signature):
        if secret:
            assert secret.encode() not in data


def test_no_secret_in_repr_pickle_or_exceptions() -> None:
    signer = SigV4Signer("us-east-1", "ecs")
    signature = _sign_ecs(signer)["Authorization"].rsplit("=", 1)[1]
    assert signer._keys  # the cache is populated
    for text in (repr(signer), str(signer), f"{signer!r} {signer}"):
        _assert_no_secret(text, signature)
        assert "us-east-1" in text
    for dumped in (pickle.dumps(signer), pickle.dumps(copy.deepcopy(signer))):
        _assert_no_secret(dumped, signature)
        restored = pickle.loads(dumped)
        assert repr(restored) == repr(signer) and not restored._keys
    assert not copy.copy(signer)._keys

    bad_calls: list[dict[str, Any]] = [
        {"headers": {"Content-Type": ECS_CONTENT_TYPE}},  # no Host
        {"now": NOW.replace(tzinfo=None)},  # naive
        {"body": "{}"},  # str, not bytes
        {"headers": {"Host": "h", "X-Bad": None}},  # a value that is not str
        {"credentials": Credentials(access_key_id=AK, secret_access_key=None)},  # type: ignore[arg-type]
        {"method": None},
    ]
    for overrides in bad_calls:
        with pytest.raises(Exception) as info:
            _sign_ecs(signer, **overrides)
        rendered = "".join(traceback.format_exception(info.value))
        _assert_no_secret(f"{info.value!s} {info.value!r} {rendered}", signature)
        _assert_no_secret(repr(info.value.args), signature)
