"""Schema migrations: ordered plain SQL files, applied once each under an advisory lock.

Plain SQL was chosen over alembic because alembic needs SQLAlchemy, which nothing else in
sfsync uses. Files are `migrations/NNNN_name.sql`; each runs in its own transaction and is
recorded in `schema_migrations` with a checksum, so an edited, already-applied file is
refused instead of silently diverging.
"""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import attrs
import psycopg
from psycopg.conninfo import conninfo_to_dict

from sfsync.adapters.postgres.failures import translated
from sfsync.domain.errors import PermanentFailure, TransientFailure

# pg_advisory_lock key shared by every sfsync process that migrates ("sfsync" in ASCII).
LOCK_KEY = 0x736673796E63
_FILE_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")
_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


@attrs.frozen
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def available() -> list[Migration]:
    """The packaged migrations, in version order."""
    found = []
    for entry in resources.files("sfsync.adapters.postgres").joinpath("migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.fullmatch(entry.name)
        if match is None:
            raise PermanentFailure(f"migration file {entry.name} is not named NNNN_name.sql")
        found.append(Migration(match[1], match[2], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda migration: migration.version)


def migrate(conninfo: str) -> list[str]:
    """Apply the migrations the database lacks; the versions applied (empty when current)."""
    with connect(conninfo) as conn, translated():
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            conn.execute(_TABLE)
            applied = _applied(conn)
            pending = [m for m in available() if _is_pending(m, applied)]
            for migration in pending:
                _apply(conn, migration)
            return [migration.version for migration in pending]
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))


def current_version(conninfo: str) -> str | None:
    """The latest applied migration version, or None for an unmigrated database."""
    with connect(conninfo) as conn, translated():
        table = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
        if table is None or table[0] is None:
            return None
        row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return row[0] if row else None


def check_database(conninfo: str) -> None:
    """Raise a clear `TransientFailure` when the database cannot be reached."""
    with connect(conninfo) as conn, translated():
        conn.execute("SELECT 1")


def connect(conninfo: str, timeout: int = 5) -> psycopg.Connection[Any]:
    """An autocommit connection; an unreachable server is a `TransientFailure` naming it."""
    try:
        return psycopg.connect(conninfo, autocommit=True, connect_timeout=timeout)
    except psycopg.OperationalError as err:
        raise TransientFailure(
            f"Postgres is not reachable at {_where(conninfo)}", code="database_unreachable"
        ) from err


def _where(conninfo: str) -> str:
    """host:port/dbname of a conninfo, never its password."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return urlsplit(conninfo).hostname or "an unparsable address"
    host = params.get("host", "localhost")
    return f"{host}:{params.get('port', 5432)}/{params.get('dbname', '')}"


def _kind(err: psycopg.Error) -> str:
    return f"{type(err).__name__} (SQLSTATE {err.sqlstate})"


def _applied(conn: psycopg.Connection[Any]) -> dict[str, str]:
    rows = conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
    return dict(rows)


def _is_pending(migration: Migration, applied: dict[str, str]) -> bool:
    recorded = applied.get(migration.version)
    if recorded is None:
        return True
    if recorded != migration.checksum:
        raise PermanentFailure(
            f"migration {migration.version}_{migration.name} was changed after it was applied"
            " (checksum mismatch); add a new migration instead of editing an applied one",
            code="migration_checksum_mismatch",
        )
    return False


def _apply(conn: psycopg.Connection[Any], migration: Migration) -> None:
    try:
        with conn.transaction():
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
    except (psycopg.ProgrammingError, psycopg.IntegrityError, psycopg.DataError) as err:
        # The server's message and detail can quote rows (a duplicate key): code only here,
        # the whole text is in the Postgres server's own log.
        raise PermanentFailure(
            f"migration {migration.version}_{migration.name} failed: {_kind(err)}",
            code="migration_failed",
        ) from err
