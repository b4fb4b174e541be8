"""SigV4 verification for LocalECS, done the way an AWS endpoint does it.

The emulator knows a secret per access key id. For each request it rebuilds the canonical request
and string to sign with *botocore's* ``SigV4Auth`` (not with any signer of ours, so a bug in our
client's signer cannot be mirrored here), using the received method, path, body and exactly the
headers the client listed in ``SignedHeaders``, at the request's own ``X-Amz-Date``; then it
compares signatures in constant time.

Cost: deriving the signing key takes four HMACs and only changes per (key, day, region,
service), so it is cached; what remains per request is hashing the body and the canonical request
plus one HMAC - tens of microseconds. ``LocalECS(verify_signatures=False)`` skips it entirely.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from ._errors import ErrorAnswer

_ALGORITHM = "AWS4-HMAC-SHA256"
_MAX_SKEW = timedelta(minutes=15)


def _denied(code: str, message: str) -> ErrorAnswer:
    return ErrorAnswer(code, message, status=403)


def _incomplete(message: str) -> ErrorAnswer:
    return ErrorAnswer("IncompleteSignatureException", message, status=400)


class _SignedHeaders(dict[str, list[str]]):
    """The ``headers_to_sign`` value botocore's canonicalisation expects (keys + get_all)."""

    def get_all(self, key: str) -> list[str]:
        return self[key]


def _canonicalizer(region: str, service: str) -> Any:
    from botocore.auth import SigV4Auth

    class Canonicalizer(SigV4Auth):  # type: ignore[misc]
        """botocore's SigV4 canonicalisation over the headers the client said it signed."""

        def headers_to_sign(self, request: Any) -> _SignedHeaders:
            headers: _SignedHeaders = request.context["signed_headers"]
            return headers

    return Canonicalizer(None, service, region)


def _amz_time(stamp: str) -> datetime:
    # 20240102T030405Z; slicing is much cheaper than strptime, and this runs per request.
    if len(stamp) != 16 or stamp[8] != "T" or stamp[15] != "Z":
        raise ValueError(stamp)
    return datetime(
        int(stamp[0:4]),
        int(stamp[4:6]),
        int(stamp[6:8]),
        int(stamp[9:11]),
        int(stamp[11:13]),
        int(stamp[13:15]),
        tzinfo=timezone.utc,
    )


def _fmt(t: datetime) -> str:
    return t.strftime("%Y%m%dT%H%M%SZ")


class SigV4Verifier:
    """Checks ``Authorization: AWS4-HMAC-SHA256 ...`` headers against known credentials.

    ``wall_clock`` is real time (not the emulator's task clock, which tests may fake): the
    request's ``X-Amz-Date`` must be within 15 minutes of it, as AWS requires.
    """

    def __init__(
        self,
        credentials: Mapping[str, str],
        *,
        region: str,
        service: str = "ecs",
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.credentials = dict(credentials)
        self.region = region
        self.service = service
        self.wall_clock = wall_clock
        self._canonical = _canonicalizer(region, service)
        self._keys: dict[tuple[str, str, str], bytes] = {}

    def _signing_key(self, secret: str, day: str) -> bytes:
        cache_key = (secret, day, self.region)
        key = self._keys.get(cache_key)
        if key is None:
            key = f"AWS4{secret}".encode()
            for part in (day, self.region, self.service, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            if len(self._keys) > 256:
                self._keys.clear()
            self._keys[cache_key] = key
        return key

    def verify(self, method: str, path: str, headers: Any, body: bytes) -> None:
        """Raise :class:`ErrorAnswer` unless the request is correctly signed by a known key.

        ``headers`` is a case-insensitive multidict (aiohttp's ``request.headers``); ``path``
        the raw request target including any query string.
        """
        from botocore.awsrequest import AWSRequest

        auth = headers.get("Authorization")
        if not auth:
            raise _denied("MissingAuthenticationTokenException", "Missing Authentication Token")
        algorithm, _, rest = auth.partition(" ")
        if algorithm != _ALGORITHM:
            raise _incomplete(f"Unsupported AWS 'algorithm': '{algorithm}'")
        parts: dict[str, str] = {}
        for item in rest.split(","):
            name, _, value = item.strip().partition("=")
            parts[name] = value
        missing = [p for p in ("Credential", "SignedHeaders", "Signature") if not parts.get(p)]
        if missing:
            raise _incomplete(
                " ".join(f"Authorization header requires '{p}' parameter." for p in missing)
                + f" Authorization={auth}"
            )
        scope = parts["Credential"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise _incomplete(
                "Credential should be scoped to a valid region, not ''. "
                if len(scope) < 3
                else f"Credential should be scoped with a valid terminator: 'aws4_request', "
                f"not '{scope[-1]}'. "
            )
        access_key, day, region, service, _ = scope
        secret = self.credentials.get(access_key)
        if secret is None:
            raise _denied(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        amz_date = headers.get("X-Amz-Date")
        if not amz_date:
            raise _incomplete(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                "header."
            )
        try:
            signed_at = _amz_time(amz_date)
        except ValueError:
            raise _incomplete(f"Invalid X-Amz-Date header: {amz_date}") from None
        if day != amz_date[:8]:
            raise _denied(
                "InvalidSignatureException",
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                f"from HTTP: '{day}' != '{amz_date[:8]}', from '{amz_date}'.",
            )
        if region != self.region:
            raise _denied(
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region, not '{region}'. ",
            )
        if service != self.service:
            raise _denied(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{self.service}'. ",
            )
        now = datetime.fromtimestamp(self.wall_clock(), timezone.utc)
        if signed_at < now - _MAX_SKEW:
            raise _denied(
                "InvalidSignatureException",
                f"Signature expired: {amz_date} is now earlier than {_fmt(now - _MAX_SKEW)} "
                f"({_fmt(now)} - 15 min.)",
            )
        if signed_at > now + _MAX_SKEW:
            raise _denied(
                "InvalidSignatureException",
                f"Signature not yet current: {amz_date} is still later than "
                f"{_fmt(now + _MAX_SKEW)} ({_fmt(now)} + 15 min.)",
            )

        signed = _SignedHeaders()
        for name in parts["SignedHeaders"].split(";"):
            values = headers.getall(name, None)
            if values is None:
                raise _denied(
                    "InvalidSignatureException",
                    f"The request signature we calculated does not match the signature you "
                    f"provided. Signed header '{name}' is missing from the request.",
                )
            signed[name] = values
        if "host" not in signed:
            raise _denied(
                "InvalidSignatureException",
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
            )
        declared = signed.get("x-amz-content-sha256")
        if declared is not None and declared != [hashlib.sha256(body).hexdigest()]:
            raise _denied(
                "InvalidSignatureException",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            )

        request = AWSRequest(
            method=method, url=f"http://{signed['host'][0]}{path}", headers={}, data=body
        )
        request.context["timestamp"] = amz_date
        request.context["signed_headers"] = signed
        canonical = self._canonical.canonical_request(request)
        string_to_sign = self._canonical.string_to_sign(request, canonical)
        expected = hmac.new(
            self._signing_key(secret, day), string_to_sign.encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, parts["Signature"]):
            raise _denied(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method. Consult the service "
                "documentation for details.\n\n"
                # As AWS does: the canonical request it expected, signed headers (and so a
                # session token) included. Clients must not pass this on verbatim.
                f"The Canonical String for this request should have been\n'{canonical}'\n\n"
                f"The String-to-Sign should have been\n'{string_to_sign}'\n",
            )
