"""The durable record of dead-lettered messages (RabbitMQ's XQ forgets after 7 days)."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from sfsync.adapters.postgres.failures import translated

_COLUMNS = "id, queue, actor, message_id, reason, created_at, replayed_at, raw_size"


class PsycopgDeadLetters:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def record(self, entry: dict[str, Any]) -> None:
        """Insert one dead letter: `body` (JSON) when present, else `raw` bytes."""
        with translated(), self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO dead_letters"
                " (queue, actor, message_id, reason, body, raw, raw_size, raw_sha256)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    entry["queue"],
                    entry["actor"],
                    entry["message_id"],
                    entry["reason"],
                    Jsonb(entry["body"]) if "body" in entry else None,
                    entry.get("raw"),
                    entry.get("raw_size"),
                    entry.get("raw_sha256"),
                ),
            )

    def list(self, limit: int = 50) -> list[dict[str, Any]]:
        with translated(), self._pool.connection() as conn:
            cur = conn.execute(
                f"SELECT {_COLUMNS} FROM dead_letters ORDER BY id DESC LIMIT %s", (limit,)
            )
            names = [c.name for c in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def get(self, entry_id: int) -> dict[str, Any] | None:
        """One dead letter with `body` (JSON or None) and `raw` (bytes or None)."""
        with translated(), self._pool.connection() as conn:
            cur = conn.execute(
                f"SELECT {_COLUMNS}, raw_sha256, body, raw FROM dead_letters WHERE id = %s",
                (entry_id,),
            )
            row = cur.fetchone()
            names = [c.name for c in cur.description or ()]
            return dict(zip(names, row, strict=True)) if row else None

    def mark_replayed(self, entry_id: int) -> None:
        with translated(), self._pool.connection() as conn:
            conn.execute("UPDATE dead_letters SET replayed_at = now() WHERE id = %s", (entry_id,))
