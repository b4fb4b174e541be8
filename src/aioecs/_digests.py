"""`DigestSet`: a set of strings that keeps 16 bytes of digest per string, not the string.

`iter_tasks` must remember every task ARN it has listed, for the whole stream, to yield each
task once while ListTasks pages shift under a changing cluster; a paginator remembers every
`nextToken` to stop a chain that loops. As a `set[str]`, an ARN (about 90 characters) costs
about 170 bytes: the string and its slot; as a set of 64-bit ints, about 80. Here a string
costs its 128-bit BLAKE2b digest, appended to one of many small `bytearray` buckets (the
digest's `hash()` picks it): about 20 bytes. Looking a digest up is one `bytearray.find` in a
bucket of 32 to 64 digests, in C; when the buckets hold 64 on average, each is split in two
by the next bit, one at a time, so growing never holds two copies of the whole set.

Two different strings with the same digest would make the second look already seen (a task
skipped, a chain ended early). For n strings the chance that any two collide is at most
n²/2¹²⁹: about 1.5e-25 for ten million ARNs, 1.5e-21 for a billion; BLAKE2b is a
cryptographic hash, so no one can choose ARNs that collide either.
"""

from __future__ import annotations

from collections.abc import Iterable
from hashlib import blake2b

__all__ = ["DigestSet"]

_SIZE = 16  # bytes of digest kept per string
_SPLIT_AT = 64  # digests per bucket, on average, that double the buckets


class DigestSet:
    """Strings added (`add`, `update`) and asked about (`in`); they cannot be listed back."""

    __slots__ = ("_buckets", "_len", "_mask")

    def __init__(self, items: Iterable[str] = ()) -> None:
        self._buckets = [bytearray()]
        self._mask = 0  # len(self._buckets) - 1, a power of two less one
        self._len = 0
        self.update(items)

    def __len__(self) -> int:
        return self._len

    def __repr__(self) -> str:
        return f"<DigestSet of {self._len} strings>"

    def __contains__(self, text: object) -> bool:
        if not isinstance(text, str):
            return False
        digest = blake2b(text.encode(), digest_size=_SIZE).digest()
        return _position(self._buckets[hash(digest) & self._mask], digest) >= 0

    def add(self, text: str) -> bool:
        """Add `text`; whether it was new (False: it, or a string with its digest, was in)."""
        digest = blake2b(text.encode(), digest_size=_SIZE).digest()
        bucket = self._buckets[hash(digest) & self._mask]
        at = bucket.find(digest)
        if at >= 0 and (at % _SIZE == 0 or _position(bucket, digest) >= 0):
            return False
        bucket += digest
        self._len += 1
        if self._len > _SPLIT_AT * len(self._buckets):
            self._split()
        return True

    def update(self, items: Iterable[str]) -> None:
        for text in items:
            self.add(text)

    def _split(self) -> None:
        """Twice the buckets: bucket i keeps the digests whose next hash bit is 0 and gives
        the others to bucket i + n."""
        buckets = self._buckets
        count = len(buckets)
        for i in range(count):
            old = buckets[i]
            keep, move = bytearray(), bytearray()
            for offset in range(0, len(old), _SIZE):
                digest = bytes(old[offset : offset + _SIZE])
                (move if hash(digest) & count else keep).extend(digest)
            buckets[i] = keep
            buckets.append(move)
        self._mask = 2 * count - 1


def _position(bucket: bytearray, digest: bytes) -> int:
    """Where `digest` is in `bucket`, or -1. A match must start at a digest's boundary: one
    straddling two digests is not this one."""
    at = bucket.find(digest)
    while at > 0 and at % _SIZE:
        at = bucket.find(digest, at + 1)
    return at
