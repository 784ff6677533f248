"""Create the application database on first run, so one command sets a machine up."""

from __future__ import annotations

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
        host = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
        raise TransientFailure(f"Postgres is not reachable at {host}") from err
