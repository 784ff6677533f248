"""The per-account rate: at most `rate_per_minute` calls in any 60 seconds.

A vendor counts its limit over a minute (Merge: 100 a minute per linked account on its
Launch plan) and does not say whether the window slides. A token bucket as deep as the rate
lets twice the rate through in the first minute, which a sliding count answers with a 429
(measured by bench/vendor_import.py: 48 s of Retry-After in a 10k import). Keeping the last
`rate` call times and waiting for the oldest to leave the window never goes over, however
the vendor counts, and loses no throughput.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0


class RateLimit:
    """`take()` waits (with the injected `sleep`) until a call fits in the window, and
    returns how long it waited. A rate of 0 never waits."""

    def __init__(
        self,
        rate_per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = max(rate_per_minute, 0)
        self.clock = clock
        self.sleep = sleep
        self._calls: deque[float] = deque(maxlen=self.rate or 1)  # the last `rate` calls

    def take(self) -> float:
        if self.rate == 0:
            return 0.0
        now, waited = self.clock(), 0.0
        if len(self._calls) == self.rate:
            free_at = self._calls[0] + WINDOW_SECONDS  # when the oldest leaves the window
            if free_at > now:
                waited = free_at - now
                self.sleep(waited)
                now = max(self.clock(), free_at)
        self._calls.append(now)  # the oldest drops out
        return waited
