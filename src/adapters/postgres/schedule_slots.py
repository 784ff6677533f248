"""The scheduler's shared state: connected (or vendor-linked) accounts' schedules, and one
row per slot whose primary key makes each (account, kind, local date) happen once across
schedulers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from psycopg_pool import ConnectionPool

from sfsync.adapters.postgres.failures import translated
from sfsync.domain.model import AccountId
from sfsync.domain.schedule import AccountSchedule, Slot

# Accounts with a Salesforce connection or a vendor link (vendor mode); only the first can
# push, and only in direct API mode.
_ACCOUNTS = """
SELECT s.account_id, s.time_zone, s.export_at, s.import_at,
       s.push_enabled AND s.direct_api AND c.account_id IS NOT NULL, a.created_at
  FROM account_settings s
  JOIN accounts a ON a.id = s.account_id
  LEFT JOIN salesforce_connections c ON c.account_id = s.account_id
  LEFT JOIN vendor_links v ON v.account_id = s.account_id
 WHERE c.account_id IS NOT NULL OR v.account_id IS NOT NULL
 ORDER BY s.account_id
"""

# One statement per batch; an account deleted meanwhile is left out by the join.
_RECORD = """
INSERT INTO schedule_slots (account_id, kind, local_date, slot_at, request_id, status)
SELECT u.account_id, u.kind, u.local_date, u.slot_at, u.request_id, %(status)s
  FROM unnest(%(accounts)s::text[], %(kinds)s::text[], %(dates)s::date[],
              %(ats)s::timestamptz[], %(ids)s::text[])
       WITH ORDINALITY AS u (account_id, kind, local_date, slot_at, request_id, n)
  JOIN accounts a ON a.id = u.account_id
 ORDER BY u.n
ON CONFLICT DO NOTHING
RETURNING account_id, kind, local_date
"""


class PostgresScheduleSlots:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def scheduled_accounts(self) -> list[AccountSchedule]:
        with translated(), self._pool.connection() as conn:
            rows = conn.execute(_ACCOUNTS).fetchall()
        return [
            AccountSchedule(AccountId(account), zone, export_at, import_at, exports, since)
            for account, zone, export_at, import_at, exports, since in rows
        ]

    @contextmanager
    def claim(self, slots: Sequence[Slot]) -> Iterator[list[Slot]]:
        # The connection's transaction commits when the block ends and rolls back when it
        # raises: a publish that failed leaves its slots unrecorded, due for the next tick.
        with translated(), self._pool.connection() as conn:
            rows = conn.execute(_RECORD, self._params(slots, "published")).fetchall()
            recorded = {(account, kind, day) for account, kind, day in rows}
            yield [slot for slot in slots if slot.key in recorded]

    def record_missed(self, slots: Sequence[Slot]) -> int:
        with translated(), self._pool.connection() as conn:
            return len(conn.execute(_RECORD, self._params(slots, "missed")).fetchall())

    def forget_before(self, instant: datetime) -> int:
        with translated(), self._pool.connection() as conn:
            return conn.execute(
                "DELETE FROM schedule_slots WHERE slot_at < %s", (instant,)
            ).rowcount

    def _params(self, slots: Sequence[Slot], status: str) -> dict[str, Any]:
        return {
            "status": status,
            "accounts": [s.account_id for s in slots],
            "kinds": [s.kind.value for s in slots],
            "dates": [s.local_date for s in slots],
            "ats": [s.at for s in slots],
            "ids": [s.request_id() for s in slots],
        }
