"""The composition root: the only module that builds adapters and hands them to services."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import attrs
import pika.exceptions
import structlog
from psycopg_pool import ConnectionPool, PoolTimeout

from sfsync.adapters.postgres.crypto import TokenCipher
from sfsync.adapters.postgres.locks import PostgresAccountLocks
from sfsync.adapters.postgres.pool import make_pool
from sfsync.adapters.postgres.uow import PsycopgUnitOfWork
from sfsync.adapters.rabbitmq.publisher import EVENTS_EXCHANGE, PikaEventPublisher
from sfsync.adapters.salesforce.auth import OAuthApp, RefreshTokenAuth, Tokens
from sfsync.adapters.salesforce.client import ClientSettings
from sfsync.adapters.salesforce.gateway import HttpxSalesforce, SalesforceSettings
from sfsync.adapters.salesforce.hosts import SalesforceHosts
from sfsync.adapters.salesforce.reads import ReadSettings
from sfsync.adapters.salesforce.transport import salesforce_http
from sfsync.domain.model import AccountSettings
from sfsync.domain.ports import SalesforceConnection, UnitOfWork
from sfsync.entrypoints.settings import ConfigError, Settings
from sfsync.services.imports import ImportDeps

log = structlog.get_logger(__name__)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def events_exchange(settings: Settings) -> str:
    """`sfsync.events`, or `<prefix>.sfsync.events`: a prefix isolates events like queues."""
    prefix = settings.queue_prefix
    return f"{prefix}.{EVENTS_EXCHANGE}" if prefix else EVENTS_EXCHANGE


def salesforce_hosts(settings: Settings) -> SalesforceHosts:
    """Salesforce's own hosts plus the configured origins: who may receive credentials."""
    return SalesforceHosts(frozenset(settings.sf_allowed_origins))


def oauth_app(settings: Settings, login_url: str) -> OAuthApp:
    """The connected app on `login_url`; HostRefused when that host may not get secrets."""
    return OAuthApp(
        login_url,
        settings.sf_client_id,
        settings.sf_client_secret or None,
        settings.sf_redirect_uri,
        hosts=salesforce_hosts(settings),
    )


def token_cipher(settings: Settings) -> TokenCipher:
    if not settings.encryption_keys:
        raise ConfigError("SFSYNC_ENCRYPTION_KEYS is required (generate one: sfsync keygen)")
    return TokenCipher(settings.encryption_keys)


@attrs.frozen
class HttpxGatewayFactory:
    """Opens HttpxSalesforce for a connection; renewed tokens are saved at once."""

    settings: Settings
    uow: Callable[[], UnitOfWork]

    @contextmanager
    def open(
        self, connection: SalesforceConnection, account: AccountSettings
    ) -> Iterator[HttpxSalesforce]:
        app = oauth_app(self.settings, connection.login_url)  # a stored bad host fails the run
        instance_url = app.hosts.instance_url(connection.instance_url)
        tokens = Tokens(connection.access_token, instance_url, connection.refresh_token)
        auth = RefreshTokenAuth(
            app,
            tokens,
            on_tokens=lambda new: self._save_tokens(connection, new),
            on_reauth_required=lambda: self._needs_reauth(connection),
        )
        config = SalesforceSettings(
            client=ClientSettings(
                api_version=self.settings.salesforce_api_version, max_share=account.quota_share
            ),
            reads=ReadSettings(bulk_threshold=self.settings.bulk_threshold),
        )
        http = salesforce_http(self.settings.sf_ca_bundle, timeout=config.client.timeout)
        gateway = HttpxSalesforce(auth, config, http=http)
        try:
            yield gateway
        finally:
            gateway.close()

    def _save_tokens(self, connection: SalesforceConnection, new: Tokens) -> None:
        with self.uow() as uow:
            current = uow.connections.get(connection.account_id) or connection
            uow.connections.save(
                attrs.evolve(
                    current,
                    access_token=new.access_token,
                    instance_url=new.instance_url,
                    refresh_token=new.refresh_token or current.refresh_token,
                    issued_at=datetime.now(UTC),
                )
            )
            uow.commit()

    def _needs_reauth(self, connection: SalesforceConnection) -> None:
        with self.uow() as uow:
            uow.connections.mark_needs_reauth(connection.account_id)
            uow.commit()


@attrs.define
class Container:
    """Everything a process needs, built once; close() releases pools and connections."""

    settings: Settings
    pool: ConnectionPool
    cipher: TokenCipher
    publisher: PikaEventPublisher
    _closed: threading.Event = attrs.Factory(threading.Event)

    def uow(self) -> PsycopgUnitOfWork:
        return PsycopgUnitOfWork(self.pool, self.cipher)

    def import_deps(self) -> ImportDeps:
        return ImportDeps(
            uow=self.uow,
            gateways=HttpxGatewayFactory(self.settings, self.uow),
            publisher=self.publisher,
            clock=SystemClock(),
            locks=PostgresAccountLocks(self.pool),
            write_page=self.settings.write_page,
        )

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
        if not self._closed.is_set():
            self._closed.set()
            self.publisher.close()
            self.pool.close()


def build(settings: Settings, *, pool_size: int | None = None) -> Container:
    cipher = token_cipher(settings)
    size = pool_size or settings.worker_threads * 2 + 2
    return Container(
        settings=settings,
        pool=make_pool(settings.database_url, min_size=min(size, 4), max_size=size),
        cipher=cipher,
        publisher=PikaEventPublisher(settings.amqp_url, events_exchange(settings)),
    )
