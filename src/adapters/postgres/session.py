"""The connection of an open unit of work, with the statement helpers the stores use."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from sfsync.adapters.postgres.failures import translated
from sfsync.domain.errors import PermanentFailure

# What a page's statement goes without (Session.probing_keys), and the statement setting
# them for the rest of the transaction.
_PLAN_METHODS = [
    f"enable_{method}"
    for method in ("hashjoin", "mergejoin", "seqscan", "bitmapscan", "sort", "material")
]
_SET_PLAN_METHODS = "SELECT set_config(m, %s, true) FROM unnest(%s::text[]) AS m"


class Session:
    """The connection of an open unit of work, with statement helpers for the stores."""

    def __init__(self) -> None:
        self.conn: psycopg.Connection[Any] | None = None

    def connection(self) -> psycopg.Connection[Any]:
        if self.conn is None:
            raise RuntimeError("the unit of work is used outside its `with` block")
        return self.conn

    def fetchone(self, query: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        with translated():
            return self.connection().execute(query, params).fetchone()

    def fetchall(
        self, query: str, params: tuple[Any, ...] | dict[str, Any]
    ) -> list[tuple[Any, ...]]:
        with translated():
            return self.connection().execute(query, params).fetchall()

    def execute(self, query: str, params: tuple[Any, ...] | dict[str, Any]) -> int:
        """Run one write; an error leaves the transaction to roll back."""
        with translated():
            return self.connection().execute(query, params).rowcount

    def write(self, query: str, params: tuple[Any, ...]) -> int:
        """Run one write in a savepoint, so a refused write leaves the transaction usable."""
        with translated(), self.savepoint() as conn:
            return conn.execute(query, params).rowcount

    @contextmanager
    def probing_keys(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection with the planner held to index probes (no hash or merge join,
        no sequential or bitmap scan, no sort, nothing materialized) until the block ends:
        for a page's statement, which touches a few thousand rows by key, where statistics
        taken before the tables grew (autovacuum lags a bulk write, or is off) would have
        it scan or sort the whole table for each page or row."""
        conn = self.connection()
        with translated():
            conn.execute(_SET_PLAN_METHODS, ("off", _PLAN_METHODS))
            yield conn
            conn.execute(_SET_PLAN_METHODS, ("on", _PLAN_METHODS))

    @contextmanager
    def savepoint(self) -> Iterator[psycopg.Connection[Any]]:
        conn = self.connection()
        conn.execute("SAVEPOINT sfsync_write")
        try:
            yield conn
        except psycopg.Error:
            if conn.info.transaction_status == TransactionStatus.INERROR:
                conn.execute("ROLLBACK TO SAVEPOINT sfsync_write")
            raise
        conn.execute("RELEASE SAVEPOINT sfsync_write")


def distinct_candidates(candidate_ids: Iterable[str]) -> None:
    """Refuse a page that names a candidate twice (one statement cannot write a row twice)."""
    seen: set[str] = set()
    for candidate_id in candidate_ids:
        if candidate_id in seen:
            raise PermanentFailure("a page names a candidate twice", code="invalid_data")
        seen.add(candidate_id)
