"""The connection pool the units of work draw from, built once per process."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import ConnectionPool


def make_pool(
    conninfo: str, *, min_size: int = 1, max_size: int = 4, timeout: float = 10.0
) -> ConnectionPool:
    """An open pool of UTC, non-autocommit connections, each checked before it is lent.

    Args:
        timeout: seconds a unit of work waits for a connection before a `TransientFailure`.
    """
    return ConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        kwargs={"connect_timeout": 5},
        configure=_configure,
        check=ConnectionPool.check_connection,
        name="sfsync",
        open=True,
    )


def _configure(conn: psycopg.Connection[Any]) -> None:
    # UTC sessions: timestamps read back in UTC whatever the server's TimeZone.
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()
