"""Migration 0015: the columns dead letters are filtered by, for new rows and old ones."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg.types.json import Jsonb

from sfsync.adapters.postgres.migrate import available

pytestmark = pytest.mark.integration

ROWS = [
    ("invalid_message: invalid sync.requested message: x", {"type": "sync.requested",
     "account_id": "acc_1"}),
    ("rejected (unknown actor, age limit or retries exhausted)",
     {"type": "candidate.signed_up", "account_id": "ada@example.com"}),
    ("TimeLimitExceeded", {"kwargs": {"body": {"type": "sync.requested", "account_id": "acc_2"}},
     "options": {}}),
    ("busy: another sync", {"type": "candidate.exploded", "account_id": "acc_3"}),
    ("invalid_message: body is a JSON array, not an object", [1, 2]),
    ("invalid_message: body is not valid JSON", None),
]  # fmt: skip
EXPECTED = [
    ("acc_1", "sync.requested", "invalid_message"),
    (None, "candidate.signed_up", "rejected"),
    ("acc_2", "sync.requested", "TimeLimitExceeded"),
    ("acc_3", "unknown", "busy"),
    (None, "unparseable", "invalid_message"),
    (None, "unparseable", "invalid_message"),
]


@pytest.fixture
def scratch(postgres_server_url: str) -> Iterator[psycopg.Connection]:
    name = f"sfsync_dl_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(postgres_server_url)._replace(path=f"/{name}"))
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def insert(conn: psycopg.Connection) -> None:
    for reason, body in ROWS:
        conn.execute(
            "INSERT INTO dead_letters (queue, actor, message_id, reason, body)"
            " VALUES ('q', 'a', 'm', %s, %s)",
            (reason, None if body is None else Jsonb(body)),
        )


def derived(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT account_id, message_type, reason_code FROM dead_letters ORDER BY id"
    ).fetchall()


@pytest.mark.parametrize("when", ["before", "after"])
def test_filter_columns_are_derived_from_the_body_and_reason(scratch, when):
    for migration in available():
        if migration.version == "0015" and when == "before":
            insert(scratch)  # rows recorded before the migration are filled by it
        scratch.execute(migration.sql)
    if when == "after":
        insert(scratch)
    assert derived(scratch) == EXPECTED
