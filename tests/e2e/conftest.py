"""End to end: a real worker thread on RabbitMQ and Postgres, importing from the emulator.

Messages are published as the other services publish them: plain JSON bytes on our queue.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import attrs
import httpx
import pika
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sfsync.adapters.postgres.crypto import TokenCipher
from sfsync.adapters.rabbitmq.events import EventListener
from sfsync.adapters.rabbitmq.requests import send_message
from sfsync.adapters.salesforce.hosts import parse_origin
from sfsync.adapters.salesforce.transport import salesforce_http
from sfsync.domain.model import AccountId, AccountSettings, AttributeMapping
from sfsync.entrypoints.bootstrap import Container, build, events_exchange, oauth_app
from sfsync.entrypoints.connect import connect_without_browser
from sfsync.entrypoints.settings import Settings, queue_name
from sfsync.entrypoints.worker import run_worker
from sfsync.services.accounts import add_attribute, save_settings
from sfsync_emulator.harness import Emulator

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def worker(
    migrated_database_url: str, amqp_url: str, queue_prefix: str, sf_emulator: Emulator
) -> Iterator[Container]:
    """One worker (2 threads) for the session, consuming a queue of its own."""
    settings, _ = worker_process_config(migrated_database_url, amqp_url, queue_prefix, sf_emulator)
    settings = attrs.evolve(
        settings,
        worker_threads=2,
        bulk_threshold=3000,
        write_page=2000,  # the resume test needs a page committed before the fault
        signup_delay_ms=2_000,  # sign-ups gathered before a flush (the default is 5 s)
        metrics_port=free_port(),  # /metrics, /healthz, /readyz (test_metrics.py)
    )
    with worker_thread(settings) as container:
        yield container


@contextmanager
def worker_thread(settings: Settings) -> Iterator[Container]:
    """A worker built from `settings`, consuming in a thread until the block ends."""
    container = build(settings)
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(container, stop), daemon=True)
    thread.start()
    try:
        yield container
    finally:
        stop.set()
        thread.join(90)
        container.close()


@attrs.define
class Harness:
    """One test's account on the shared worker and emulator."""

    container: Container
    emu: Emulator
    account: AccountId
    listener: EventListener

    @property
    def queue(self) -> str:
        return queue_name(self.container.settings)

    def configure(self, **settings: Any) -> None:
        save_settings(self.container.uow(), AccountSettings(self.account, **settings))

    def map(self, name: str, field: str) -> None:
        add_attribute(self.container.uow(), self.account, AttributeMapping(name, field))

    def publish_raw(self, body: bytes) -> None:
        """Exactly what another service puts on the wire."""
        send_raw(self.container.settings.amqp_url, self.queue, body)

    def request(self, **fields: Any) -> dict[str, Any]:
        message = {
            "type": "sync.requested",
            "version": 1,
            "id": str(uuid.uuid4()),
            "requested_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "account_id": self.account,
            "scope": "import",
            "candidate_id": None,
            "trigger": "manual",
            "full_resync": False,
            **fields,
        }
        send_message(self.container.settings.amqp_url, self.queue, message)
        return message

    def sync(self, timeout: float = 120, **fields: Any) -> dict[str, Any]:
        """Request an import and wait for its sync.completed event."""
        message = self.request(**fields)
        event = self.listener.next_for(message["id"], wait=timeout)
        assert event is not None, f"no sync.completed within {timeout}s"
        return event

    def candidates(self) -> list[Any]:
        with self.container.pool.connection() as conn:
            rows = conn.execute(
                "SELECT email, salesforce_id, attributes, unsubscribed, first_name"
                " FROM candidates WHERE account_id = %s ORDER BY email_key",
                (self.account,),
            )
            return rows.fetchall()

    def soql_received(self) -> list[str]:
        return [r["soql"] for r in self.emu.admin.requests() if r.get("soql")]


def send_raw(amqp_url: str, queue: str, *bodies: bytes) -> None:
    """Publish `bodies` as they are, persistent and confirmed, on one connection."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for data in bodies:
            properties = pika.BasicProperties(delivery_mode=2)
            channel.basic_publish("", queue, data, properties, mandatory=True)
    finally:
        connection.close()


@pytest.fixture
def harness(worker: Container, sf_emulator: Emulator) -> Iterator[Harness]:
    sf_emulator.admin.reset(contacts=0)
    sf_emulator.admin.clear_requests()
    account = AccountId(f"acc_{secrets.token_hex(4)}")
    save_settings(worker.uow(), AccountSettings(account))
    app = oauth_app(worker.settings, sf_emulator.base_url)
    with salesforce_http(worker.settings.sf_ca_bundle) as client:
        connect_without_browser(worker.uow(), client, app, account)
    exchange = events_exchange(worker.settings)
    with EventListener(worker.settings.amqp_url, "sync.completed", exchange) as listener:
        yield Harness(worker, sf_emulator, account, listener)


def free_port() -> int:
    """A TCP port nothing listens on now (the OS's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(port: int, path: str = "/metrics") -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=10)


Samples = Counter[tuple[str, frozenset[tuple[str, str]]]]


def samples(text: str) -> Samples:
    """Prometheus text, parsed by Prometheus' own parser: (name, labels) -> value."""
    found: Samples = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, frozenset(sample.labels.items())] = sample.value
    return found


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def poll(predicate: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    """`predicate()` once it is truthy, checked every 20 ms until `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not met within {timeout:.0f}s")
        time.sleep(0.02)
    return value


@pytest.fixture
def wait_for() -> Callable[..., Any]:
    return lambda predicate, timeout=30: poll(predicate, timeout)


def body(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode()


def worker_process_config(
    database_url: str, amqp_url: str, prefix: str, emu: Emulator, **env: str
) -> tuple[Settings, dict[str, str]]:
    """Settings for a test's own `sfsync worker` process (fresh keys and queue prefix) and
    that process's environment, `env` on top (JSON logs)."""
    key = TokenCipher.generate_key()
    settings = Settings(
        database_url=database_url,
        amqp_url=amqp_url,
        encryption_keys=(key,),
        queue_prefix=prefix,
        sf_client_id=emu.client_id,
        sf_client_secret=emu.client_secret,
        sf_redirect_uri=emu.redirect_uri,
        sf_ca_bundle=emu.ca_path,
        sf_allowed_origins=(parse_origin(emu.base_url),),
    )
    environ = os.environ | {
        "DATABASE_URL": database_url,
        "AMQP_URL": amqp_url,
        "SFSYNC_ENCRYPTION_KEYS": key,
        "SFSYNC_QUEUE_PREFIX": prefix,
        "SFSYNC_SF_CLIENT_ID": emu.client_id,
        "SFSYNC_SF_CLIENT_SECRET": emu.client_secret,
        "SFSYNC_SF_REDIRECT_URI": emu.redirect_uri,
        "SFSYNC_SF_CA_BUNDLE": emu.ca_path or "",
        "SFSYNC_SF_ALLOWED_ORIGINS": ",".join(settings.sf_allowed_origins),
        "SFSYNC_LOG_FORMAT": "json",
        "SFSYNC_METRICS_PORT": "0",  # tests run side by side: a test that wants it picks one
        **env,
    }
    return settings, environ
