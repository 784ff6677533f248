"""The connection pool the units of work draw from, built once per process."""

from __future__ import annotations

import json
import time
import weakref
from typing import Any

import orjson
import psycopg
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool

CHECK_AFTER_IDLE = 30.0  # seconds in the pool after which a connection is checked before use
_returned_at: weakref.WeakKeyDictionary[psycopg.Connection[Any], float] = (
    weakref.WeakKeyDictionary()
)


def make_pool(
    conninfo: str, *, min_size: int = 1, max_size: int = 4, timeout: float = 10.0
) -> ConnectionPool:
    """An open pool of UTC, non-autocommit connections; one that sat idle for a while is
    checked before it is lent (a check is a round trip: once per page would add up).

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
        check=_check_if_idle,
        reset=_stamp_return,
        name="sfsync",
        open=True,
    )


def _configure(conn: psycopg.Connection[Any]) -> None:
    # UTC sessions: timestamps read back in UTC whatever the server's TimeZone.
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()
    set_json_loads(_loads, conn)


def _loads(data: bytes | str) -> Any:
    """JSON read with orjson (a page of candidates loads two documents a row: a few times
    faster), or the standard library for what orjson refuses (integers past 64 bits)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def _stamp_return(conn: psycopg.Connection[Any]) -> None:
    _returned_at[conn] = time.monotonic()


def _check_if_idle(conn: psycopg.Connection[Any]) -> None:
    """Check a connection that sat in the pool long enough to have been dropped."""
    if time.monotonic() - _returned_at.get(conn, 0.0) >= CHECK_AFTER_IDLE:
        ConnectionPool.check_connection(conn)
