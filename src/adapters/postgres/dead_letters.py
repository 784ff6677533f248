"""The durable record of dead-lettered messages (RabbitMQ's XQ forgets after 7 days).

Listing, counting and purging take a DeadLetterFilter; a replay claims rows first (sets
`replayed_at` where it is still NULL, so two operators never send one message twice) and
releases the claim of a row whose message could not be sent.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from sfsync.adapters.postgres.failures import translated

_COLUMNS = (
    "id, queue, actor, message_id, account_id, message_type, reason_code, reason,"
    " created_at, replayed_at, replay_note, raw_size"
)
REPLAYABLE_TYPES = ("sync.requested", "candidate.signed_up")


@attrs.frozen
class DeadLetterFilter:
    """Which dead letters a command acts on; an unset field does not filter."""

    account_id: str | None = None
    message_type: str | None = None
    reason: str | None = None  # a reason code, or part of one
    older_than: timedelta | None = None
    newer_than: timedelta | None = None
    replayed: bool | None = None

    def is_empty(self) -> bool:
        return self == DeadLetterFilter()

    def where(self) -> tuple[str, list[Any]]:
        """A WHERE clause (always one, `true` when empty) and its parameters."""
        terms: list[str] = ["true"]
        params: list[Any] = []
        for column, value in (("account_id", self.account_id), ("message_type", self.message_type)):
            if value is not None:
                terms.append(f"{column} = %s")
                params.append(value)
        if self.reason is not None:
            terms.append("strpos(lower(reason_code), lower(%s)) > 0")
            params.append(self.reason)
        if self.older_than is not None:
            terms.append("created_at < now() - %s")
            params.append(self.older_than)
        if self.newer_than is not None:
            terms.append("created_at >= now() - %s")
            params.append(self.newer_than)
        if self.replayed is not None:
            terms.append("replayed_at IS NOT NULL" if self.replayed else "replayed_at IS NULL")
        return " AND ".join(terms), params


def _rows(cur: Any) -> list[dict[str, Any]]:
    names = [c.name for c in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


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

    def find(
        self, limit: int = 50, where: DeadLetterFilter = DeadLetterFilter()
    ) -> list[dict[str, Any]]:
        """The newest dead letters that match, without bodies."""
        clause, params = where.where()
        with translated(), self._pool.connection() as conn:
            cur = conn.execute(
                f"SELECT {_COLUMNS} FROM dead_letters WHERE {clause} ORDER BY id DESC LIMIT %s",
                (*params, limit),
            )
            return _rows(cur)

    def summary(self, where: DeadLetterFilter = DeadLetterFilter()) -> list[dict[str, Any]]:
        """Per reason code: how many dead letters, how many not replayed, the oldest of those."""
        clause, params = where.where()
        with translated(), self._pool.connection() as conn:
            cur = conn.execute(
                "SELECT reason_code, count(*) AS total,"
                " count(*) FILTER (WHERE replayed_at IS NULL) AS not_replayed,"
                " min(created_at) FILTER (WHERE replayed_at IS NULL) AS oldest_not_replayed"
                f" FROM dead_letters WHERE {clause} GROUP BY reason_code"
                " ORDER BY not_replayed DESC, total DESC, reason_code",
                params,
            )
            return _rows(cur)

    def get(self, entry_id: int) -> dict[str, Any] | None:
        """One dead letter with `body` (JSON or None) and `raw` (bytes or None)."""
        with translated(), self._pool.connection() as conn:
            cur = conn.execute(
                f"SELECT {_COLUMNS}, raw_sha256, body, raw FROM dead_letters WHERE id = %s",
                (entry_id,),
            )
            rows = _rows(cur)
            return rows[0] if rows else None

    def claim(self, entry_id: int, note: str | None = None) -> bool:
        """Mark one dead letter replayed unless it already is; False when it was."""
        with translated(), self._pool.connection() as conn:
            cur = conn.execute(
                "UPDATE dead_letters SET replayed_at = now(), replay_note = %s"
                " WHERE id = %s AND replayed_at IS NULL RETURNING id",
                (note, entry_id),
            )
            return cur.fetchone() is not None

    def claim_batch(
        self, where: DeadLetterFilter, limit: int, skip: list[int]
    ) -> list[dict[str, Any]]:
        """Mark up to `limit` matching, replayable, not yet replayed dead letters (except
        `skip`) replayed and return them with their bodies, oldest first. Rows another
        replay is claiming are passed over, never waited for."""
        clause, params = where.where()
        with translated(), self._pool.connection() as conn:
            cur = conn.execute(
                "UPDATE dead_letters SET replayed_at = now()"
                " WHERE replayed_at IS NULL AND id IN ("
                f" SELECT id FROM dead_letters WHERE {clause} AND replayed_at IS NULL"
                " AND message_type = ANY(%s) AND NOT id = ANY(%s)"
                " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)"
                " RETURNING id, message_id, message_type, body",
                (*params, list(REPLAYABLE_TYPES), skip, limit),
            )
            return sorted(_rows(cur), key=lambda row: row["id"])

    def release(self, entry_ids: list[int]) -> None:
        """Undo claims whose messages were not sent: they can be replayed again."""
        if not entry_ids:
            return
        with translated(), self._pool.connection() as conn:
            conn.execute(
                "UPDATE dead_letters SET replayed_at = NULL, replay_note = NULL WHERE id = ANY(%s)",
                (entry_ids,),
            )

    def count(self, where: DeadLetterFilter) -> int:
        clause, params = where.where()
        with translated(), self._pool.connection() as conn:
            row = conn.execute(f"SELECT count(*) FROM dead_letters WHERE {clause}", params)
            return int(row.fetchone()[0])  # type: ignore[index]

    def purge(self, where: DeadLetterFilter) -> int:
        """Delete the matching dead letters; how many were deleted."""
        clause, params = where.where()
        with translated(), self._pool.connection() as conn:
            cur = conn.execute(f"DELETE FROM dead_letters WHERE {clause}", params)
            return cur.rowcount
