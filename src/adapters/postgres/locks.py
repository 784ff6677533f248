"""One sync per account at a time: a session-level advisory lock held on its own connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from psycopg_pool import ConnectionPool

from sfsync.adapters.postgres.failures import translated

LOCK_NAMESPACE = "sfsync:account:"


class PostgresAccountLocks:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    @contextmanager
    def hold(self, account_id: str) -> Iterator[bool]:
        with translated(), self._pool.connection() as conn:
            conn.autocommit = True
            key = LOCK_NAMESPACE + account_id
            row = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (key,))
            held = bool(row.fetchone()[0])  # type: ignore[index]
            try:
                yield held
            finally:
                if held and not conn.closed:
                    conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (key,))
                conn.autocommit = False
