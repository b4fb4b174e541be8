"""The pacer survives any pause and any order of throttles, successes and cancellations
(issue 24, finding 4): a fake clock drives it through every sequence hypothesis finds."""

from __future__ import annotations

import math

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from aioecs._limits import MAX_SHARE, MIN_RATE, Pacer, Quota, Reservation


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


PAUSES = st.one_of(
    st.sampled_from([0.0, 1e-9, 0.001, 5.0, 2.5, 60.0, 3600.0, 86400.0 * 30]),
    st.floats(0.0, 30.0),
)


class PacerMachine(RuleBasedStateMachine):
    """Requests reserve a slot, wait for it, and then succeed, get throttled, or are
    cancelled (their token released); time passes in steps of any size, exactly 5 s
    included (the refill time of a 100-token bucket at 20/s)."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.quota = Quota(100, 20)
        self.pacer = Pacer(self.quota, self.clock)
        self.in_flight: list[Reservation] = []
        self.reserved = 0

    @rule(pause=PAUSES)
    def time_passes(self, pause: float) -> None:
        self.clock.now += pause

    @rule()
    def reserve(self) -> None:
        self.reserved += 1
        wait, sent = reservation = self.pacer.reserve()
        assert math.isfinite(wait) and wait >= 0
        # Never longer than every reservation so far, one slot each at the slowest pace.
        assert wait <= self.reserved / MIN_RATE + 1e-6
        assert sent == pytest.approx(self.clock.now + wait)
        self.in_flight.append(reservation)

    @precondition(lambda self: self.in_flight)
    @rule(pick=st.integers(0, 1000), outcome=st.sampled_from(["ok", "throttled", "cancelled"]))
    def answer(self, pick: int, outcome: str) -> None:
        reservation = self.in_flight.pop(pick % len(self.in_flight))
        if outcome == "ok":
            self.pacer.succeeded(reservation.sent)
        elif outcome == "throttled":
            self.pacer.throttled(reservation.sent)
        else:
            self.pacer.release(reservation)

    @rule(ago=st.floats(0.0, 10.0))
    def throttled_from_elsewhere(self, ago: float) -> None:
        """A throttle of a request the machine does not track (another task's, retried)."""
        self.pacer.throttled(self.clock.now - ago)

    @invariant()
    def estimates_stay_finite_and_bounded(self) -> None:
        pacer, quota = self.pacer, self.quota
        assert MIN_RATE <= pacer.rate <= quota.rate * MAX_SHARE
        assert 1.0 <= pacer.burst <= quota.burst * MAX_SHARE
        pace = pacer.pace()
        assert pace > 0 and not math.isnan(pace)


PacerMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=60, deadline=None)
test_the_pacer_survives_any_sequence = PacerMachine.TestCase


def _paced_with_a_throttle_left_over(clock: Clock) -> Pacer:
    """A pacer paced at 10/s (burst 50) after eight successes, then one throttle that nothing
    confirms before the caller pauses."""
    pacer = Pacer(Quota(100, 20), clock)
    pacer.reserve()
    pacer.throttled(clock.now)
    pacer.throttled(clock.now)
    assert (pacer.paced, pacer.rate, pacer.burst) == (True, 10.0, 50.0)
    for _ in range(8):
        clock.now += 0.2
        pacer.succeeded(pacer.reserve().sent)
    clock.now += 0.2
    pacer.throttled(clock.now - 0.1)  # the lone throttle, left unconfirmed
    return pacer


def test_a_pause_of_exactly_the_refill_time_raises_nothing() -> None:
    clock = Clock()
    pacer = _paced_with_a_throttle_left_over(clock)
    at = clock.now
    clock.now = at + 5.0  # 100 tokens at 20/s: the mirror is full again
    assert pacer.reserve().wait == 0.0 and not pacer.paced
    pacer.throttled(clock.now)  # raised ZeroDivisionError
    assert not pacer.paced


def test_one_throttle_after_an_idle_pause_keeps_the_rate() -> None:
    clock = Clock()
    pacer = _paced_with_a_throttle_left_over(clock)
    clock.now += 30.0  # idle: ECS's bucket refilled
    sent = pacer.reserve().sent
    assert not pacer.paced  # optimistic again
    pacer.throttled(sent)  # one throttle, unconfirmed: no news of the bucket's size
    assert not pacer.paced
    waits = [pacer.reserve().wait for _ in range(20)]
    assert waits == [0.0] * 20
    # A confirmed one after it measures afresh from the documented quota, not from 0.2/s.
    pacer.throttled(sent)
    assert pacer.rate >= 10.0 and pacer.burst >= 50.0


def test_a_throttle_older_than_a_refill_is_not_confirmed_by_a_new_one() -> None:
    clock = Clock()
    pacer = Pacer(Quota(100, 20), clock)
    pacer.throttled(pacer.reserve().sent)  # unpaced; unconfirmed
    clock.now += 600.0
    pacer.throttled(pacer.reserve().sent)  # ten minutes later: a new suspect, not a confirmation
    assert not pacer.paced
