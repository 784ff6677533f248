"""Create the application database on first run, so one command sets a machine up."""

from __future__ import annotations

from typing import Any, LiteralString
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from sfsync.domain.errors import TransientFailure


def ensure_database(conninfo: str) -> bool:
    """Create the database named in `conninfo` if it is missing; True when it was created."""
    parts = urlsplit(conninfo)
    name = parts.path.lstrip("/")
    if not name:
        return False
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    try:
        with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if exists.fetchone():
                return False
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    except psycopg.errors.DuplicateDatabase:
        return False
    except psycopg.OperationalError as err:
        raise _unreachable(conninfo) from err


def foreign_content(conninfo: str, own_account: str) -> str | None:
    """What in the database is not `own_account`'s sfsync data, in words; None when nothing.

    The demo asks before it migrates or writes: a database with other accounts, or with
    tables of some other application, is not the demo's to use.
    """
    try:
        with psycopg.connect(conninfo, connect_timeout=5) as conn:
            tables = _value(conn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            if not tables:
                return None
            if _value(conn, "SELECT to_regclass('schema_migrations')") is None:
                return f"{tables} table(s) that are not sfsync's"
            if _value(conn, "SELECT to_regclass('accounts')") is None:
                return None
            others = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM accounts WHERE id <> %s ORDER BY id LIMIT 4", (own_account,)
                )
            ]
    except psycopg.OperationalError as err:
        raise _unreachable(conninfo) from err
    if not others:
        return None
    shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
    return f"other accounts ({shown})"


def _value(conn: psycopg.Connection[Any], query: LiteralString) -> object:
    """The value of a query that returns one row of one column."""
    row = conn.execute(query).fetchone()
    assert row is not None, "the query returns one row"
    return row[0]


def _unreachable(conninfo: str) -> TransientFailure:
    parts = urlsplit(conninfo)
    host = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    return TransientFailure(f"Postgres is not reachable at {host}")
