"""The token bucket with a fake clock: a burst up to the rate, then the refill's pace."""

from __future__ import annotations

import pytest

from sfsync.adapters.vendor.bucket import TokenBucket
from tests.unit.vendor.scripted_vendor import FakeClock


def test_a_burst_up_to_the_rate_does_not_wait() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, clock=clock, sleep=clock.sleep)
    assert [bucket.take() for _ in range(60)] == [0.0] * 60
    assert clock.slept == []


def test_past_the_burst_each_call_waits_for_one_token_to_refill() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, clock=clock, sleep=clock.sleep)  # one token a second
    for _ in range(60):
        bucket.take()
    waits = [bucket.take() for _ in range(3)]
    assert waits == pytest.approx([1.0, 1.0, 1.0])
    assert clock.slept == pytest.approx([1.0, 1.0, 1.0])


def test_time_passing_refills_up_to_the_capacity_only() -> None:
    clock = FakeClock()
    bucket = TokenBucket(120, clock=clock, sleep=clock.sleep)  # two tokens a second
    for _ in range(120):
        bucket.take()
    clock.now += 1.5  # three tokens back
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)
    clock.now += 3600  # an hour idle: still at most 120
    assert sum(1 for _ in range(120) if bucket.take() == 0.0) == 120
    assert bucket.take() > 0


def test_a_partial_token_waits_only_for_the_rest() -> None:
    clock = FakeClock()
    bucket = TokenBucket(6, clock=clock, sleep=clock.sleep)  # a token every 10 s
    for _ in range(6):
        bucket.take()
    clock.now += 4
    assert bucket.take() == pytest.approx(6.0)


def test_rate_zero_never_waits() -> None:
    clock = FakeClock()
    bucket = TokenBucket(0, clock=clock, sleep=clock.sleep)
    assert all(bucket.take() == 0.0 for _ in range(10_000))
    assert clock.slept == []
