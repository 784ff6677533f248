"""A token bucket: calls up to the per-minute rate at once, then as fast as it refills."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """`take()` waits (with the injected `sleep`) until a token is there, and returns how
    long it waited. A rate of 0 never waits."""

    def __init__(
        self,
        rate_per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.capacity = float(max(rate_per_minute, 0))
        self.per_second = self.capacity / 60.0
        self.clock = clock
        self.sleep = sleep
        self.tokens = self.capacity
        self.updated = clock()

    def take(self) -> float:
        if self.capacity == 0:
            return 0.0
        self._refill()
        waited = 0.0
        if self.tokens < 1:
            waited = (1 - self.tokens) / self.per_second
            self.sleep(waited)
            self._refill()
            self.tokens = max(self.tokens, 1.0)  # the wait paid for it (float rounding aside)
        self.tokens -= 1
        return waited

    def _refill(self) -> None:
        now = self.clock()
        elapsed = max(now - self.updated, 0.0)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.per_second)
        self.updated = now
