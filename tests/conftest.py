"""Service fixtures: real Postgres and RabbitMQ, from env URLs, else testcontainers, else skip.

Under CI (CI or REQUIRE_SERVICES set) a missing service fails the run instead of skipping,
so CI cannot go green by skipping.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

pytest_plugins = ["sfsync_emulator.pytest_plugin"]

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def _services_required() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("REQUIRE_SERVICES"))


def _unavailable(what: str, err: Exception) -> None:
    reason = f"{what} is not reachable ({type(err).__name__}: {err})"
    if _services_required():
        pytest.fail(f"{reason}; CI requires it", pytrace=False)
    pytest.skip(reason)


def _docker_available() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """URL of a Postgres server we may create databases on."""
    url = os.environ.get("DATABASE_URL")
    if url is None and not os.environ.get("SFSYNC_TEST_LOCAL_ONLY") and _docker_available():
        from testcontainers.community.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as pg:
            yield pg.get_connection_url()
        return
    yield url or DEFAULT_DATABASE_URL


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty database for this test session, dropped at the end."""
    import psycopg

    name = f"sfsync_test_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(postgres_server_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as err:
        _unavailable("Postgres", err)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(postgres_server_url)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated_database_url(database_url: str) -> str:
    """The session database with every migration applied."""
    from sfsync.adapters.postgres.migrate import migrate

    migrate(database_url)
    return database_url


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """URL of a reachable RabbitMQ; tests prefix their queues with `queue_prefix`."""
    import pika

    url = os.environ.get("AMQP_URL")
    if url is None and not os.environ.get("SFSYNC_TEST_LOCAL_ONLY") and _docker_available():
        from testcontainers.community.rabbitmq import RabbitMqContainer

        with RabbitMqContainer("rabbitmq:4-management") as rabbit:
            host = rabbit.get_container_host_ip()
            port = rabbit.get_exposed_port(5672)
            yield f"amqp://guest:guest@{host}:{port}/%2F"
        return
    url = url or DEFAULT_AMQP_URL
    try:
        pika.BlockingConnection(pika.URLParameters(url)).close()
    except Exception as err:
        _unavailable("RabbitMQ", err)
    yield url


@pytest.fixture(scope="session")
def queue_prefix() -> str:
    """A per-session token so parallel runs on one broker never share queues."""
    return f"t{secrets.token_hex(3)}"
