"""`sfsync scheduler`: tick until SIGTERM, publishing each daily slot once it is due."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog

from sfsync.domain.errors import TransientFailure
from sfsync.domain.schedule import next_slot
from sfsync.entrypoints.bootstrap import Container
from sfsync.services.scheduler import Scheduler, Tick

log = structlog.get_logger(__name__)


class FastClock:
    """Starts at `start` and runs `speed` times as fast as the wall clock (the demo)."""

    def __init__(self, start: datetime, speed: float) -> None:
        self._start = start
        self._speed = speed
        self._began = time.monotonic()

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._began) * self._speed
        return self._start + timedelta(seconds=elapsed)


def fast_clock(container: Container, speed: float, lead: timedelta) -> FastClock:
    """A clock that starts `lead` before the next slot of the connected accounts."""
    now = datetime.now(UTC)
    first = next_slot(container.schedule_slots().scheduled_accounts(), now)
    return FastClock((first.at if first else now) - lead, speed)


def run_scheduler(
    scheduler: Scheduler,
    stop: threading.Event,
    interval: float,
    on_tick: Callable[[Tick], None] | None = None,
) -> None:
    """Tick every `interval` seconds until `stop` is set; a tick stopped between its
    batches leaves the rest due, never half published. A store or broker that is down
    costs a tick, not the process."""
    log.info("scheduler.started", interval=interval)
    unschedulable: tuple[str, ...] = ()
    while not stop.is_set():
        try:
            tick = scheduler.tick(stop.is_set)
        except TransientFailure as err:
            log.warning("scheduler.tick_failed", error=err.code)
        else:
            if tick.published or tick.missed or tick.unschedulable:
                log.info(
                    "scheduler.tick",
                    published=len(tick.published),
                    missed=tick.missed,
                    unschedulable=len(tick.unschedulable),
                )
            if tick.unschedulable != unschedulable:  # named when it changes, not every tick
                unschedulable = tick.unschedulable
                log.warning("scheduler.unschedulable", accounts=list(unschedulable))
            if on_tick is not None:
                on_tick(tick)
        stop.wait(interval)
    log.info("scheduler.stopped")
