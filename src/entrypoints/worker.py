"""`sfsync worker`: consume our queue on RabbitMQ with dramatiq worker threads."""

from __future__ import annotations

import gc
import signal
import sys
import threading
from typing import Any

import dramatiq
import structlog
from dramatiq.middleware import Retries, TimeLimit

from sfsync.adapters.postgres.dead_letters import PsycopgDeadLetters
from sfsync.adapters.rabbitmq.broker import ContractBroker, check_queues
from sfsync.adapters.rabbitmq.encoder import ContractEncoder
from sfsync.adapters.rabbitmq.middleware import DeadLetterRecorder
from sfsync.entrypoints.actors import HANDLED_TYPES, register_actors
from sfsync.entrypoints.bootstrap import Container
from sfsync.entrypoints.settings import Settings

log = structlog.get_logger(__name__)

BASE_QUEUE = "sfsync"
GC_YOUNG_THRESHOLD = 50_000
SWITCH_INTERVAL = 0.0005  # seconds


def queue_name(settings: Settings) -> str:
    """Where publishers send contract messages (routing key on the default exchange)."""
    return f"{settings.queue_prefix}.{BASE_QUEUE}" if settings.queue_prefix else BASE_QUEUE


def build_broker(container: Container) -> tuple[ContractBroker, dict[str, Any]]:
    """A broker with our encoder, middleware and actors (the encoder is process-global).

    Only the middleware our actors use: Retries and TimeLimit (their options), and the
    dead-letter record. dramatiq's other defaults are left out on purpose: Callbacks and
    Pipelines would act on options no publisher may set, AgeLimit and ShutdownNotifications
    have nothing to do without `max_age` and `notify_shutdown`.
    """
    settings = container.settings
    queue = queue_name(settings)
    check_queues(settings.amqp_url, queue)  # one clear line if someone declared them first
    dead_letters = PsycopgDeadLetters(container.pool)
    middleware = [TimeLimit(), Retries(), DeadLetterRecorder(dead_letters.record)]
    broker = ContractBroker(url=settings.amqp_url, confirm_delivery=True, middleware=middleware)
    dramatiq.set_encoder(ContractEncoder(queue, HANDLED_TYPES, settings.encryption_keys))
    actors = register_actors(broker, queue, container.import_deps(), settings.retries)
    broker.declare_queue(queue, ensure=True)
    return broker, actors


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


def run_worker(container: Container, stop: threading.Event | None = None) -> None:
    """Consume until SIGTERM/SIGINT (or `stop` is set); running messages finish first."""
    broker, _ = build_broker(container)
    container.warm_up()
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    worker = dramatiq.Worker(
        broker, worker_threads=container.settings.worker_threads, worker_timeout=1000
    )
    worker.start()
    log.info(
        "worker.started",
        queue=queue_name(container.settings),
        threads=container.settings.worker_threads,
    )
    try:
        stop.wait()
    finally:
        log.info("worker.stopping")
        worker.stop(timeout=60_000)
        broker.close()
