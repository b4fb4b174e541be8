"""AWS Signature Version 4 (SigV4) request signing, small and cheap enough for the hot path.

Why not ``botocore.auth.SigV4Auth``: it needs an ``AWSRequest``, re-parses the URL, derives
the signing key again on every call (four HMACs), and builds many temporary objects. At
thousands of ECS requests per second that cost adds up. This module signs from plain values,
caches what repeats, and is checked byte for byte in ``tests/test_signing.py`` against
botocore and against the aws-c-auth SigV4 test suite.

What is cached, and why it is safe:

* the derived signing key, per (secret key, date); region and service are fixed per signer.
  The key changes only when the UTC date or the credentials change;
* the ``X-Amz-Date`` text for the last whole second seen, because formatting a datetime costs
  more than the rest of the date handling;
* for each signing key, the two SHA-256 states of HMAC (RFC 2104) after the padded key.
  With OpenSSL 3 the setup of an HMAC context costs more than hashing a small string to sign,
  so copying a ready state instead of calling ``hmac.digest`` halves the cost of the final
  HMAC.

Secrets never leave this module in text: nothing here logs, exception messages name no
values, and ``repr(SigV4Signer)`` shows only the region and service. The headers returned by
:meth:`SigV4Signer.sign` hold the token and the signature, as they must; keep them out of logs.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, unquote_to_bytes

from aioecs._credentials import Credentials

__all__ = ["SigV4Signer"]

_ALGORITHM = "AWS4-HMAC-SHA256"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_UTC = timezone.utc
_SECOND = timedelta(seconds=1)
_LAST_SECOND = datetime.max.replace(microsecond=0, tzinfo=_UTC)

# Headers that are not signed, as in botocore: proxies and tracing agents may add, drop or
# rewrite them on the way, and a signed header that changes breaks the signature.
_UNSIGNED_HEADERS = frozenset(
    {
        "baggage",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "traceparent",
        "tracestate",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    }
)
# Headers this signer sets itself. A stale copy in the input (say, from the previous attempt
# of a retried request) is dropped, so a retry is signed afresh, as botocore does.
_SIGNER_HEADERS = frozenset({"authorization", "x-amz-date", "x-amz-security-token"})
_SIGNER_HEADERS_WITH_BODY = _SIGNER_HEADERS | {"x-amz-content-sha256"}

# More signing keys than this at once means credentials are churning. Clearing the cache
# is simpler than LRU bookkeeping, and a key costs only four HMACs to derive again.
_MAX_CACHED_KEYS = 16

_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))

# A pair of SHA-256 states: after (key XOR ipad) and after (key XOR opad).
_HmacStates = tuple["hashlib._Hash", "hashlib._Hash"]


def _hmac_states(key: bytes) -> _HmacStates:
    """Hash the padded key once, so each later HMAC over that key is two copies and updates.

    The key is a 32-byte SHA-256 digest, shorter than the 64-byte block, so RFC 2104 pads it
    with zeros and never hashes it first.
    """
    padded = key.ljust(64, b"\0")
    return hashlib.sha256(padded.translate(_IPAD)), hashlib.sha256(padded.translate(_OPAD))


def _hmac_hex(states: _HmacStates, msg: bytes) -> str:
    """HMAC-SHA256 of ``msg`` in hex, from the states made by :func:`_hmac_states`."""
    inner = states[0].copy()
    inner.update(msg)
    outer = states[1].copy()
    outer.update(inner.digest())
    return outer.hexdigest()


def _uri_encode(raw: bytes | str) -> str:
    """RFC 3986 encoding as SigV4 defines it: everything but ``A-Za-z0-9-_.~`` is escaped."""
    return quote(raw, safe="")


def _remove_dot_segments(path: str) -> str:
    """Remove ``.`` and ``..`` segments (RFC 3986 5.2.4) and empty segments (``//``).

    AWS services other than S3 normalise the path this way before they check the signature.
    A trailing slash is kept unless nothing is left, and ``..`` cannot climb above the root.
    """
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    head = "/" if path.startswith("/") else ""
    tail = "/" if path.endswith("/") and segments else ""
    return head + "/".join(segments) + tail


def _canonical_path(path: str, normalize: bool) -> str:
    """The canonical URI: the path as sent, normalised if asked, then URI-encoded again.

    ``path`` is the path as it goes on the wire. SigV4 for services other than S3 encodes it
    once more (so ``%2F`` becomes ``%252F``), as botocore does; ``/`` is kept.
    """
    if path == "/":  # every ECS request
        return path
    if not path:
        return "/"
    if normalize:
        path = _remove_dot_segments(path) or "/"
    return quote(path, safe="/")


def _canonical_query(query: str) -> str:
    """The canonical query string: parameters decoded, encoded again per RFC 3986, sorted.

    Decoding first makes the result the same whether the caller passed ``%E1%88%B4`` or the
    raw character. Bytes are kept as bytes, so an invalid UTF-8 escape is not replaced.
    ``+`` is a literal plus, not a space, as in RFC 3986. A parameter without ``=`` gets an
    empty value.
    """
    if not query:  # every ECS request
        return ""
    pairs = []
    for param in query.split("&"):
        if param:
            key, _, value = param.partition("=")
            pairs.append((_uri_encode(unquote_to_bytes(key)), _uri_encode(unquote_to_bytes(value))))
    pairs.sort()
    return "&".join(f"{key}={value}" for key, value in pairs)


def _canonical_headers(
    headers: Mapping[str, str], drop: frozenset[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Return (headers to send, canonical header values by lowercase name).

    Values are trimmed and inner whitespace runs (folded lines included) become one space.
    Names that differ only in case, or repeat in a multidict, are merged with ``,`` in the
    order given. ``.items()`` is read, not ``[]``, so a multidict such as aiohttp's
    ``CIMultiDict`` gives all its values; repeats of one exact name are merged with ``,`` in
    the headers to send as well, which HTTP treats as the same thing.
    """
    send: dict[str, str] = {}
    canonical: dict[str, str] = {}
    for name, value in headers.items():
        lname = name.lower()
        if lname in drop:
            continue
        previous = send.get(name)
        send[name] = value if previous is None else f"{previous},{value}"
        if lname in _UNSIGNED_HEADERS:
            continue
        trimmed = " ".join(value.split())
        previous = canonical.get(lname)
        canonical[lname] = trimmed if previous is None else f"{previous},{trimmed}"
    if "host" not in canonical:
        raise ValueError("headers must include a Host header")
    return send, canonical


class SigV4Signer:
    """Signs requests for one region and service with AWS Signature Version 4.

    One signer is meant to be shared by every request to that endpoint: it caches the signing
    keys it derives. It is safe to use from several threads: each cache update stores a whole
    entry in one step, cached hash states are only ever copied, and a race at worst derives a
    key or formats a date twice.
    """

    __slots__ = ("_date_cache", "_keys", "_region", "_scope_tail", "_service")

    def __init__(self, region: str, service: str) -> None:
        self._region = region
        self._service = service
        self._scope_tail = f"/{region}/{service}/aws4_request"
        self._keys: dict[tuple[str, str], _HmacStates] = {}
        self._date_cache: tuple[datetime, datetime, str] = (_LAST_SECOND, _LAST_SECOND, "")

    @property
    def region(self) -> str:
        return self._region

    @property
    def service(self) -> str:
        return self._service

    def __repr__(self) -> str:
        # Written out so that the key cache, which is derived from secrets, never shows.
        return f"SigV4Signer(region={self._region!r}, service={self._service!r})"

    def __reduce__(self) -> tuple[type[SigV4Signer], tuple[str, str]]:
        # Pickles and copies carry no keys derived from secrets.
        return (SigV4Signer, (self._region, self._service))

    def sign(
        self,
        *,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        credentials: Credentials,
        now: datetime,
        normalize_path: bool = True,
        sign_body: bool = False,
        omit_session_token: bool = False,
    ) -> dict[str, str]:
        """Return a new dict: ``headers`` plus ``X-Amz-Date``, ``Authorization`` and, with a
        session token, ``X-Amz-Security-Token``.

        :param path: the path as sent on the wire (already percent-encoded).
        :param query: the query string as sent, without ``?``; ``""`` for none.
        :param headers: must include ``Host``. Any ``Authorization``, ``X-Amz-Date`` or
            ``X-Amz-Security-Token`` in it (any case) is replaced, and so is
            ``X-Amz-Content-SHA256`` with ``sign_body``: a retry can pass its previous headers.
            Hop-by-hop and tracing headers (``User-Agent``, ``X-Amzn-Trace-Id``, ...) are
            sent but not signed. A multidict's repeated names come back merged with ``,``.
        :param now: the signing time; it must be timezone-aware. AWS rejects a request
            signed more than five minutes away from its clock.
        :param normalize_path: remove dot segments and empty segments from the path first.
            ``False`` is for S3-style signing; the path is still encoded again.
        :param sign_body: also send and sign ``X-Amz-Content-SHA256`` (the payload hash).
        :param omit_session_token: send ``X-Amz-Security-Token`` but leave it out of the
            signature, for the few services that want it added after signing.
        """
        return self._sign(
            method,
            path,
            query,
            headers,
            body,
            credentials,
            now,
            normalize_path,
            sign_body,
            omit_session_token,
        )[0]

    # Returns (headers, canonical request, string to sign) so that the tests can compare the
    # intermediate texts with the test suite's.

    def _sign(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        credentials: Credentials,
        now: datetime,
        normalize_path: bool,
        sign_body: bool,
        omit_session_token: bool,
    ) -> tuple[dict[str, str], str, str]:
        amz_date = self._amz_date(now)
        payload_hash = hashlib.sha256(body).hexdigest() if body else _EMPTY_SHA256
        send, canonical = _canonical_headers(
            headers, _SIGNER_HEADERS_WITH_BODY if sign_body else _SIGNER_HEADERS
        )
        send["X-Amz-Date"] = canonical["x-amz-date"] = amz_date
        token = credentials.session_token
        if token:
            # An STS token is base64, so it needs no trimming.
            send["X-Amz-Security-Token"] = token
            if not omit_session_token:
                canonical["x-amz-security-token"] = token
        if sign_body:
            send["X-Amz-Content-SHA256"] = canonical["x-amz-content-sha256"] = payload_hash
        names = sorted(canonical)
        signed_headers = ";".join(names)
        canonical_request, string_to_sign, signature = self._signature(
            method, _canonical_path(path, normalize_path), _canonical_query(query),
            canonical, names, signed_headers, payload_hash, amz_date, credentials,
        )  # fmt: skip
        send["Authorization"] = (
            f"{_ALGORITHM} Credential={credentials.access_key_id}/{amz_date[:8]}"
            f"{self._scope_tail}, SignedHeaders={signed_headers}, Signature={signature}"
        )
        return send, canonical_request, string_to_sign

    def _signature(
        self,
        method: str,
        canonical_path: str,
        canonical_query: str,
        canonical_headers: Mapping[str, str],
        names: list[str],
        signed_headers: str,
        payload_hash: str,
        amz_date: str,
        credentials: Credentials,
    ) -> tuple[str, str, str]:
        """(canonical request, string to sign, signature) of a request; `names` are the
        canonical header names, sorted."""
        canonical_request = "\n".join(
            (
                method.upper(),
                canonical_path,
                canonical_query,
                "".join([f"{name}:{canonical_headers[name]}\n" for name in names]),
                signed_headers,
                payload_hash,
            )
        )
        digest = hashlib.sha256(canonical_request.encode()).hexdigest()
        datestamp = amz_date[:8]
        string_to_sign = f"{_ALGORITHM}\n{amz_date}\n{datestamp}{self._scope_tail}\n{digest}"
        key = self._key(credentials.secret_access_key, datestamp)
        return canonical_request, string_to_sign, _hmac_hex(key, string_to_sign.encode())

    def _amz_date(self, now: datetime) -> str:
        """``YYYYMMDDTHHMMSSZ`` in UTC, formatted once per second (a one-entry cache).

        The cache holds the second as a half-open datetime range: two comparisons are exact
        (no float timestamp) and much cheaper than formatting.
        """
        if now.tzinfo is not _UTC and now.utcoffset() is None:
            # A naive datetime would be read as local time: a silent, wrong signature.
            raise ValueError("now must be a timezone-aware datetime")
        start, end, amz_date = self._date_cache
        if not start <= now < end:
            utc = now.astimezone(_UTC)
            amz_date = (
                f"{utc.year:04d}{utc.month:02d}{utc.day:02d}"
                f"T{utc.hour:02d}{utc.minute:02d}{utc.second:02d}Z"
            )
            start = utc.replace(microsecond=0)
            end = start + _SECOND if start < _LAST_SECOND else start
            self._date_cache = (start, end, amz_date)
        return amz_date

    def _key(self, secret: str, datestamp: str) -> _HmacStates:
        """The HMAC states of the signing key for ``secret`` on ``datestamp``, cached."""
        states = self._keys.get((secret, datestamp))
        if states is None:
            # Not an f-string: a secret that is not a str must fail, not sign with "None".
            key = hmac.digest(b"AWS4" + secret.encode(), datestamp.encode(), "sha256")
            for part in (self._region, self._service, "aws4_request"):
                key = hmac.digest(key, part.encode(), "sha256")
            states = _hmac_states(key)
            if len(self._keys) >= _MAX_CACHED_KEYS:
                self._keys.clear()
            self._keys[(secret, datestamp)] = states
        return states
