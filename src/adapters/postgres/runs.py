"""Sync runs (progress, report, position) and each account's import cursor and marks."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from sfsync.adapters.postgres.session import Session
from sfsync.domain.errors import PermanentFailure
from sfsync.domain.model import AccountId, SalesforceId, SyncCursor, SyncMarks
from sfsync.domain.ports import RunRecord

_COLUMNS = (
    "id, account_id, request_id, scope, status, started_at, finished_at, processed,"
    " expected, counts, errors, fields_read, mode, cursor_modstamp, cursor_contact_id, source"
)


class PsycopgRuns:
    def __init__(self, session: Session) -> None:
        self._session = session

    def start(self, run: RunRecord) -> None:
        self._session.write(
            f"INSERT INTO sync_runs ({_COLUMNS}) VALUES ({', '.join(['%s'] * 16)})",
            (run.id, run.account_id, run.request_id, run.scope, *_outcome(run), *_state(run)),
        )

    def checkpoint(self, run: RunRecord) -> None:
        self._changed(  # with every page: one statement, no savepoint
            "UPDATE sync_runs SET processed = %s, expected = %s, counts = %s, errors = %s,"
            " fields_read = %s, mode = %s, cursor_modstamp = %s, cursor_contact_id = %s,"
            " source = %s WHERE id = %s",
            (*_outcome(run)[3:], *_state(run), run.id),
        )

    def finish(self, run: RunRecord) -> None:
        self._changed(
            "UPDATE sync_runs SET status = %s, started_at = %s, finished_at = %s,"
            " processed = %s, expected = %s, counts = %s, errors = %s, fields_read = %s,"
            " mode = %s, cursor_modstamp = %s, cursor_contact_id = %s, source = %s"
            " WHERE id = %s",
            (*_outcome(run), *_state(run), run.id),
        )

    def get(self, run_id: str) -> RunRecord | None:
        row = self._session.fetchone(f"SELECT {_COLUMNS} FROM sync_runs WHERE id = %s", (run_id,))
        return _record(row) if row else None

    def find_by_request(self, account_id: AccountId, request_id: str) -> RunRecord | None:
        row = self._session.fetchone(
            f"SELECT {_COLUMNS} FROM sync_runs WHERE account_id = %s AND request_id = %s",
            (account_id, request_id),
        )
        return _record(row) if row else None

    def recent(self, account_id: AccountId, limit: int) -> list[RunRecord]:
        rows = self._session.fetchall(  # sync_runs_account_started_idx, read backwards
            f"SELECT {_COLUMNS} FROM sync_runs WHERE account_id = %s AND started_at IS NOT NULL"
            " ORDER BY started_at DESC, id DESC LIMIT %s",
            (account_id, limit),
        )
        return [_record(row) for row in rows]

    def cursor(self, account_id: AccountId) -> SyncCursor | None:
        row = self._session.fetchone(
            "SELECT cursor_modstamp, cursor_contact_id FROM sync_state WHERE account_id = %s",
            (account_id,),
        )
        if row is None or row[0] is None:
            return None
        return SyncCursor(modstamp=row[0], contact_id=SalesforceId(row[1]))

    def save_cursor(self, account_id: AccountId, cursor: SyncCursor) -> None:
        self._session.execute(  # with every page: no savepoint round trips
            "INSERT INTO sync_state (account_id, cursor_modstamp, cursor_contact_id)"
            " VALUES (%s, %s, %s) ON CONFLICT (account_id) DO UPDATE SET"
            " cursor_modstamp = EXCLUDED.cursor_modstamp,"
            " cursor_contact_id = EXCLUDED.cursor_contact_id, updated_at = now()",
            (account_id, cursor.modstamp, cursor.contact_id),
        )

    def marks(self, account_id: AccountId) -> SyncMarks:
        row = self._session.fetchone(
            "SELECT settled_until, deletes_checked_until, reconciled_at, fields_read,"
            " full_started_at FROM sync_state WHERE account_id = %s",
            (account_id,),
        )
        if row is None:
            return SyncMarks()
        settled, deletes, reconciled, fields, full_started = row
        fields = tuple(fields) if fields else None
        return SyncMarks(settled, deletes, reconciled, fields, full_started)

    def save_marks(self, account_id: AccountId, marks: SyncMarks) -> None:
        self._session.write(
            "INSERT INTO sync_state (account_id, settled_until, deletes_checked_until,"
            " reconciled_at, fields_read, full_started_at) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (account_id) DO UPDATE SET settled_until = EXCLUDED.settled_until,"
            " deletes_checked_until = EXCLUDED.deletes_checked_until,"
            " reconciled_at = EXCLUDED.reconciled_at, fields_read = EXCLUDED.fields_read,"
            " full_started_at = EXCLUDED.full_started_at, updated_at = now()",
            (
                account_id,
                marks.settled_until,
                marks.deletes_checked_until,
                marks.reconciled_at,
                list(marks.fields) if marks.fields is not None else None,
                marks.full_started_at,
            ),
        )

    def _changed(self, query: str, params: tuple[Any, ...]) -> None:
        if self._session.execute(query, params) == 0:  # no savepoint: an error ends the unit
            raise PermanentFailure("sync run not found", code="not_found")


def _outcome(run: RunRecord) -> tuple[Any, ...]:
    """status .. fields_read, in `_COLUMNS` order."""
    return (
        run.status,
        run.started_at,
        run.finished_at,
        run.processed,
        run.expected,
        Jsonb(dict(run.counts)),
        Jsonb([dict(error) for error in run.errors]),
        list(run.fields_read),
    )


def _state(run: RunRecord) -> tuple[Any, ...]:
    """mode, cursor_modstamp, cursor_contact_id, source."""
    position = run.position
    at = (position.modstamp, position.contact_id) if position else (None, None)
    return (run.mode, *at, Jsonb(dict(run.source)))


def _record(row: tuple[Any, ...]) -> RunRecord:
    id_, account_id, request_id, scope, status, started, finished, *rest = row
    processed, expected, counts, errors, fields_read, mode, stamp, contact_id, source = rest
    return RunRecord(
        id=id_,
        account_id=AccountId(account_id),
        request_id=request_id,
        scope=scope,
        status=status,
        started_at=started,
        finished_at=finished,
        processed=processed,
        expected=expected,
        counts=counts,
        errors=tuple(errors),
        fields_read=tuple(fields_read),
        mode=mode,
        position=SyncCursor(stamp, SalesforceId(contact_id)) if stamp else None,
        source=source,
    )
