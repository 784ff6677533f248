"""The per-account rate with a fake clock: never more than the rate in any 60 seconds."""

from __future__ import annotations

import random

import pytest

from sfsync.adapters.vendor.rate_limit import RateLimit
from tests.unit.vendor.scripted_vendor import FakeClock


def test_calls_up_to_the_rate_do_not_wait() -> None:
    clock = FakeClock()
    limit = RateLimit(60, clock=clock, sleep=clock.sleep)
    assert [limit.take() for _ in range(60)] == [0.0] * 60
    assert clock.slept == []


def test_the_next_call_waits_for_the_oldest_to_leave_the_minute() -> None:
    clock = FakeClock()
    limit = RateLimit(3, clock=clock, sleep=clock.sleep)
    for gap in (0, 10, 10):  # calls at 0, 10 and 20 s
        clock.now += gap
        limit.take()
    clock.now += 5  # 25 s: the call at 0 s leaves the window at 60 s
    assert limit.take() == pytest.approx(35.0)
    assert limit.take() == pytest.approx(10.0)  # then the one at 10 s, at 70 s


def test_no_sixty_second_window_ever_holds_more_than_the_rate() -> None:
    """Whatever the pace asked for (bursts, idle spells), as a sliding count sees it."""
    rng = random.Random(14)
    clock = FakeClock()
    limit = RateLimit(100, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(2_000):
        clock.now += rng.choice((0.0,) * 8 + (0.2, 30.0))
        limit.take()
        times.append(clock.now)
    worst = max(sum(1 for t in times[i:] if t < start + 60.0) for i, start in enumerate(times))
    assert worst == 100


def test_the_whole_rate_is_used_at_a_steady_pace() -> None:
    clock = FakeClock()
    limit = RateLimit(100, clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(1_000):
        limit.take()
    assert clock.now - start == pytest.approx(540.0)  # 900 calls past the first 100: 9 minutes


def test_rate_zero_never_waits() -> None:
    clock = FakeClock()
    limit = RateLimit(0, clock=clock, sleep=clock.sleep)
    assert all(limit.take() == 0.0 for _ in range(10_000))
    assert clock.slept == []
