"""The composition root: the only module that builds adapters and hands them to services.

A Container builds each adapter on first use, so a command opens only what it needs (`sync`
no Postgres, `dead-letters list` no token keys) and close() releases what was built. The CLI
makes one per process from the environment; the worker, the demo and tests `build` one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import dramatiq
import httpx
import pika.exceptions
import structlog
from dramatiq.middleware import TimeLimit
from psycopg_pool import ConnectionPool, PoolTimeout

from sfsync.adapters.local_slots import LocalScheduleSlots
from sfsync.adapters.postgres.crypto import TokenCipher
from sfsync.adapters.postgres.dead_letters import PsycopgDeadLetters
from sfsync.adapters.postgres.key_rotation import RotationReport, rotate_tokens
from sfsync.adapters.postgres.locks import PostgresAccountLocks
from sfsync.adapters.postgres.pool import make_pool
from sfsync.adapters.postgres.schedule_slots import PostgresScheduleSlots
from sfsync.adapters.postgres.uow import PsycopgUnitOfWork
from sfsync.adapters.prometheus_metrics import PrometheusMetrics
from sfsync.adapters.rabbitmq.broker import ContractBroker, check_queues
from sfsync.adapters.rabbitmq.encoder import ContractEncoder
from sfsync.adapters.rabbitmq.message_metrics import MessageMetrics
from sfsync.adapters.rabbitmq.middleware import ConfirmedRetries, DeadLetterRecorder, LogContext
from sfsync.adapters.rabbitmq.publisher import EVENTS_EXCHANGE, PikaEventPublisher
from sfsync.adapters.rabbitmq.requests import MessageSender, RequestPublisher, send_message
from sfsync.adapters.salesforce.auth import OAuthApp
from sfsync.adapters.salesforce.transport import salesforce_http
from sfsync.adapters.structlog_run_log import StructlogRunLog
from sfsync.domain.ports import Clock, ScheduleSlots, SignupFlushes
from sfsync.entrypoints.actors import HANDLED_TYPES, INTERNAL_ACTORS, register_actors
from sfsync.entrypoints.gateways import HttpxGatewayFactory, oauth_app
from sfsync.entrypoints.settings import ConfigError, Settings, queue_name
from sfsync.entrypoints.validation import validators
from sfsync.services.import_steps import ImportDeps
from sfsync.services.scheduler import Scheduler, ScheduleSettings
from sfsync.services.signups import SignupDeps, SignupSettings

log = structlog.get_logger(__name__)
OPS_POOL_SIZE = 2  # a command uses one connection at a time


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def events_exchange(settings: Settings) -> str:
    """`sfsync.events`, or `<prefix>.sfsync.events`: a prefix isolates events like queues."""
    prefix = settings.queue_prefix
    return f"{prefix}.{EVENTS_EXCHANGE}" if prefix else EVENTS_EXCHANGE


def token_keys(settings: Settings) -> tuple[str, ...]:
    """The keys tokens are sealed and envelopes signed with; ConfigError without one."""
    if not settings.encryption_keys:
        raise ConfigError("SFSYNC_ENCRYPTION_KEYS is required (generate one: sfsync keygen)")
    return settings.encryption_keys


@attrs.define
class Container:
    """Every adapter a process uses, each built on first use; close() releases what was built.

    Token keys are asked for only where tokens are read or written (a unit of work, key
    rotation, the worker), Postgres only by what reads or writes it.
    """

    load_settings: Callable[[], Settings]
    pool_size: int | None = None  # None: sized for the worker's threads
    _settings: Settings | None = attrs.field(default=None, init=False)
    _pool: ConnectionPool | None = attrs.field(default=None, init=False)
    _cipher: TokenCipher | None = attrs.field(default=None, init=False)
    _publisher: PikaEventPublisher | None = attrs.field(default=None, init=False)
    _requests: RequestPublisher | None = attrs.field(default=None, init=False)
    _metrics: PrometheusMetrics | None = attrs.field(default=None, init=False)
    _closed: bool = attrs.field(default=False, init=False)
    # set when the worker is asked to stop: runs end after the page in hand
    stopping: threading.Event = attrs.field(factory=threading.Event, init=False)
    _lock: threading.RLock = attrs.field(factory=threading.RLock, init=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = self.load_settings()
        return self._settings

    @property
    def pool(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                self._refuse_if_closed()
                # A run holds its lock's connection, a unit of work and the push's
                # background commit; two more for sign-ups and health.
                size = self.pool_size or self.settings.worker_threads * 3 + 2
                self._pool = make_pool(
                    self.settings.database_url, min_size=min(size, 4), max_size=size
                )
            return self._pool

    @property
    def cipher(self) -> TokenCipher:
        with self._lock:
            if self._cipher is None:
                self._refuse_if_closed()
                self._cipher = TokenCipher(token_keys(self.settings))
            return self._cipher

    @property
    def publisher(self) -> PikaEventPublisher:
        with self._lock:
            if self._publisher is None:
                self._refuse_if_closed()
                self._publisher = PikaEventPublisher(
                    self.settings.amqp_url, events_exchange(self.settings)
                )
            return self._publisher

    @property
    def metrics(self) -> PrometheusMetrics:
        """This process's counters (served on SFSYNC_METRICS_PORT by the worker and the
        scheduler)."""
        with self._lock:
            if self._metrics is None:
                self._metrics = PrometheusMetrics()
            return self._metrics

    def uow(self) -> PsycopgUnitOfWork:
        cipher = self.cipher  # first: without keys, fail before Postgres is opened
        return PsycopgUnitOfWork(self.pool, cipher)

    def import_deps(self) -> ImportDeps:
        return ImportDeps(
            uow=self.uow,
            gateways=self.gateways(),
            publisher=self.publisher,
            clock=SystemClock(),
            locks=PostgresAccountLocks(self.pool),
            run_log=StructlogRunLog(),
            metrics=self.metrics,
            write_page=self.settings.write_page,
            push_page=self.settings.push_page,
            push_attempts=self.settings.push_attempts,
            vendor_max_age=self.settings.vendor_max_age,
            stopping=self.stopping.is_set,
        )

    def signup_deps(self, flushes: SignupFlushes) -> SignupDeps:
        return SignupDeps(
            uow=self.uow,
            gateways=self.gateways(),
            locks=PostgresAccountLocks(self.pool),
            clock=SystemClock(),
            flushes=flushes,
            settings=SignupSettings(delay_seconds=self.settings.signup_delay_ms / 1000),
        )

    def gateways(self) -> HttpxGatewayFactory:
        """Opens a Salesforce gateway for a stored connection (describe, reads)."""
        return HttpxGatewayFactory(self.settings, self.uow, self.metrics)

    def dead_letters(self) -> PsycopgDeadLetters:
        return PsycopgDeadLetters(self.pool)

    def send_request(self, message: Mapping[str, object]) -> None:
        """Send a contract message to our queue, the way the web app does."""
        send_message(self.settings.amqp_url, queue_name(self.settings), message)

    def schedule_slots(self) -> PostgresScheduleSlots:
        """The scheduler's shared state: connected accounts' schedules, slots recorded."""
        return PostgresScheduleSlots(self.pool)

    def scheduler(self, clock: Clock | None = None, *, fast: bool = False) -> Scheduler:
        """The daily scheduler; `fast` (a demo on a fast clock): slots are recorded in this
        process only and request ids are its own, so no real slot is taken or repeated."""
        settings = self.settings
        if settings.schedule_jitter_seconds >= settings.schedule_grace_minutes * 60:
            raise ConfigError(
                "SFSYNC_SCHEDULE_JITTER_SECONDS must be shorter than"
                " SFSYNC_SCHEDULE_GRACE_MINUTES, or a delayed slot would be missed"
            )
        slots: ScheduleSlots = self.schedule_slots()
        if fast:
            slots = LocalScheduleSlots(slots.scheduled_accounts)
        with self._lock:
            self._refuse_if_closed()
            if self._requests is None:
                self._requests = RequestPublisher(settings.amqp_url, queue_name(settings))
        return Scheduler(
            slots=slots,
            requests=self._requests,
            clock=clock or SystemClock(),
            settings=ScheduleSettings(
                grace=timedelta(minutes=settings.schedule_grace_minutes),
                spread=timedelta(seconds=settings.schedule_jitter_seconds),
                batch=settings.schedule_batch,
            ),
            id_salt=f"fast-{os.urandom(8).hex()}" if fast else "",
        )

    def request_sender(self) -> MessageSender:
        """A connection to send many contract messages on (confirmed); the caller closes it."""
        return MessageSender(self.settings.amqp_url, queue_name(self.settings))

    def oauth_app(self, login_url: str) -> OAuthApp:
        return oauth_app(self.settings, login_url)

    def salesforce_http(self) -> httpx.Client:
        """A client for the OAuth flow (connect, disconnect); the caller closes it."""
        return salesforce_http(self.settings.sf_ca_bundle)

    def rotate_keys(self, batch_size: int) -> RotationReport:
        cipher = self.cipher  # first, as in uow()
        return rotate_tokens(self.pool, cipher, batch_size)

    def broker(self) -> tuple[ContractBroker, dict[str, Any]]:
        """A broker with our encoder, middleware and actors (the encoder is process-global).

        Only the middleware our actors use: Retries (as ConfirmedRetries: a retry RabbitMQ
        did not confirm dead-letters its message) and TimeLimit, the dead-letter record, the
        message counters (before Retries: its after-hook runs after Retries') and the log
        context (first: its after-hook runs last).
        dramatiq's other defaults are left out on purpose: Callbacks and Pipelines would act
        on options no publisher may set, AgeLimit and ShutdownNotifications have nothing to do
        without `max_age` and `notify_shutdown`.
        """
        settings = self.settings
        queue = queue_name(settings)
        encoder = ContractEncoder(queue, HANDLED_TYPES, token_keys(settings), INTERNAL_ACTORS)
        validators()  # the contract's schemas, read and checked once, before any message
        check_queues(settings.amqp_url, queue)  # one clear line if someone declared them first
        recorder = DeadLetterRecorder(self.dead_letters().record)
        middleware = [
            LogContext(),
            TimeLimit(),
            MessageMetrics(self.metrics),
            ConfirmedRetries(),
            recorder,
        ]
        broker = ContractBroker(url=settings.amqp_url, confirm_delivery=True, middleware=middleware)
        dramatiq.set_encoder(encoder)
        actors = register_actors(
            broker, queue, self.import_deps(), settings.retries, self.signup_deps
        )
        broker.declare_queue(queue, ensure=True)
        return broker, actors

    def warm_up(self) -> None:
        """Pay the one-off costs before the first message does: the pool's connections, the
        events connection, the TLS trust store and httpx's lazily imported transport. What
        is down now is only logged: the first message tries again and retries if it must."""
        salesforce_http(self.settings.sf_ca_bundle).close()
        try:
            self.pool.wait(timeout=10)
        except PoolTimeout:
            log.warning("warm_up.postgres_not_ready")
        try:
            self.publisher.connect()
        except pika.exceptions.AMQPError as err:
            log.warning("warm_up.rabbitmq_not_ready", error=type(err).__name__)

    def close(self) -> None:
        """Close what was built; nothing is built afterwards. Safe to call again."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            publisher, pool, requests = self._publisher, self._pool, self._requests
        if publisher is not None:
            publisher.close()
        if requests is not None:
            requests.close()
        if pool is not None:
            pool.close()

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _refuse_if_closed(self) -> None:
        if self._closed:
            raise RuntimeError("the container is closed")


def build(settings: Settings, *, pool_size: int | None = None) -> Container:
    return Container(lambda: settings, pool_size=pool_size)


def from_environment(environ: Mapping[str, str] = os.environ) -> Container:
    """The CLI's container: settings are read on first use, so `--help` and `keygen` work
    whatever the environment holds."""
    return Container(lambda: Settings.from_env(environ), pool_size=OPS_POOL_SIZE)
