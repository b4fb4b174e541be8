"""`DigestSet`, the exactly-once memory of `iter_tasks` and of every `nextToken` chain: it
must answer as a `set[str]` would, through any number of splits."""

from __future__ import annotations

from hashlib import blake2b

from hypothesis import given, settings
from hypothesis import strategies as st

from aioecs._digests import DigestSet, _position

# Many repeats (small integers) and more than 64 distinct strings (the first split).
STRINGS = st.one_of(st.integers(0, 400).map(str), st.text(max_size=6))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add", "in"]), STRINGS), max_size=700))
def test_it_answers_as_a_set_of_strings(operations: list[tuple[str, str]]) -> None:
    digests, plain = DigestSet(), set[str]()
    for operation, text in operations:
        if operation == "add":
            assert digests.add(text) is (text not in plain)
            plain.add(text)
        else:
            assert (text in digests) is (text in plain)
        assert len(digests) == len(plain)
    assert all(text in digests for text in plain)


def test_every_string_is_found_after_many_splits() -> None:
    arns = [f"arn:aws:ecs:us-east-1:123456789012:task/prod/{i:032x}" for i in range(6000)]
    seen = DigestSet(arns[:3000])
    seen.update(arns[:3000])  # again: nothing new
    assert len(seen) == 3000
    assert all(arn in seen for arn in arns[:3000])
    assert not any(arn in seen for arn in arns[3000:])
    assert [seen.add(arn) for arn in arns[2999:3002]] == [False, True, True]
    assert 42 not in seen and repr(seen) == "<DigestSet of 3002 strings>"


def test_a_match_across_two_digests_is_not_one() -> None:
    first, second = (blake2b(s, digest_size=16).digest() for s in (b"a", b"b"))
    straddling = first[8:] + second[:8]
    assert _position(bytearray(first + second), straddling) == -1
    assert _position(bytearray(first + second + straddling), straddling) == 32
    assert _position(bytearray(first + second), second) == 16
