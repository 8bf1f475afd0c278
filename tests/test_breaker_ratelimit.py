"""The circuit breaker and the rate limiter: pure state on injected clocks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from muara.exporters.breaker import BreakerState, CircuitBreaker
from muara.exporters.ratelimit import TokenBucket
from muara.testing import FakeClock


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """The state, read afresh (mypy would keep an earlier narrowing of the property)."""
    return breaker.state


def test_breaker_opens_after_threshold_and_lets_one_trial_through() -> None:
    clock = FakeClock()
    changes: list[BreakerState] = []
    breaker = CircuitBreaker(3, timedelta(seconds=60), clock, on_change=changes.append)

    for _ in range(2):
        breaker.failed()
    assert state_of(breaker) is BreakerState.CLOSED and breaker.allow()
    breaker.failed()
    assert state_of(breaker) is BreakerState.OPEN
    assert not breaker.allow()
    assert breaker.reopens_at == clock() + timedelta(seconds=60)

    clock.advance(60)
    assert state_of(breaker) is BreakerState.HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow(), "only one trial call in half-open"
    breaker.failed()
    assert state_of(breaker) is BreakerState.OPEN, "a failed trial opens it again"

    clock.advance(60)
    assert breaker.allow()
    breaker.succeeded()
    assert state_of(breaker) is BreakerState.CLOSED and breaker.failures == 0
    assert changes == [BreakerState.OPEN, BreakerState.OPEN, BreakerState.CLOSED]


def test_a_success_resets_the_count_of_failures() -> None:
    breaker = CircuitBreaker(2, timedelta(seconds=10), FakeClock())
    breaker.failed()
    breaker.succeeded()
    breaker.failed()
    assert state_of(breaker) is BreakerState.CLOSED


def test_an_unused_trial_is_given_back() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(1, timedelta(seconds=10), clock)
    breaker.failed()
    clock.advance(10)
    assert breaker.allow()
    breaker.released()
    assert breaker.allow()


class Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_then_spaces_calls() -> None:
    clock = Monotonic()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)

    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.5)
    assert bucket.reserve() == pytest.approx(1.0)
    clock.now += 10  # refills, but never beyond the burst
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.5)


def test_rate_zero_is_unlimited_and_bad_values_are_refused() -> None:
    bucket = TokenBucket(rate=0, burst=1, clock=Monotonic())
    assert all(bucket.reserve() == 0 for _ in range(100))
    with pytest.raises(ValueError):
        TokenBucket(rate=-1, burst=1, clock=Monotonic())
