"""`sfsync worker`: consume our queue on RabbitMQ with dramatiq worker threads."""

from __future__ import annotations

import gc
import signal
import sys
import threading

import dramatiq
import structlog

from sfsync.entrypoints.bootstrap import Container
from sfsync.entrypoints.endpoints import WORKER_PORT
from sfsync.entrypoints.health import serve_endpoints
from sfsync.entrypoints.settings import queue_name

log = structlog.get_logger(__name__)

GC_YOUNG_THRESHOLD = 50_000
SWITCH_INTERVAL = 0.0005  # seconds


def tune_process() -> None:
    """Interpreter settings for a worker process (`sfsync worker` calls this at start)."""
    # An import allocates millions of short-lived, acyclic objects: at the default 700
    # allocations per young collection, collecting took a tenth of an import's time. What
    # startup built lives as long as the process: frozen, no collection scans it again.
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 10)
    gc.freeze()
    # An import's reader and writer threads wait on the network and Postgres while the
    # planning thread computes; after each wait a thread needs the GIL back, and by default
    # it may wait 5 ms for it, once per round trip. 0.5 ms took 7-12% off a 200k import.
    sys.setswitchinterval(SWITCH_INTERVAL)


def run_worker(container: Container, stop: threading.Event | None = None) -> bool:
    """Consume until SIGTERM/SIGINT (or `stop` is set), then stop within the grace time.

    Running imports and pushes end after the page in hand and leave their messages
    unacknowledged, for the next worker to carry on; other messages finish. Returns False
    when something was still running at the end of the grace time (the caller exits then).
    """
    broker, _ = container.broker()
    container.warm_up()
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    worker = dramatiq.Worker(
        broker, worker_threads=container.settings.worker_threads, worker_timeout=1000
    )
    endpoints = serve_endpoints(container, WORKER_PORT, lambda: dead_threads(worker))
    worker.start()
    log.info(
        "worker.started",
        queue=queue_name(container.settings),
        threads=container.settings.worker_threads,
    )
    stop.wait()
    grace = container.settings.shutdown_grace_seconds
    log.info("worker.stopping", grace_s=grace)
    container.stopping.set()

    def shut_down() -> None:
        worker.stop(timeout=grace * 1000)
        broker.close()
        if endpoints is not None:
            endpoints.close()

    stopper = threading.Thread(target=shut_down, name="sfsync-shutdown", daemon=True)
    stopper.start()
    stopper.join(grace)
    if stopper.is_alive():
        log.error("worker.stop_timed_out", grace_s=grace)
        return False
    log.info("worker.stopped")
    return True


def dead_threads(worker: dramatiq.Worker) -> list[str]:
    """The worker's consumer and worker threads that are not running (liveness)."""
    consumers = [
        f"consumer of {queue}" for queue, t in worker.consumers.items() if not t.is_alive()
    ]
    workers = sum(not thread.is_alive() for thread in worker.workers)
    return consumers + ([f"{workers} worker threads"] if workers else [])
