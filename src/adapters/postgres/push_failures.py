"""Per-record push failures: Salesforce's code, fields and message, attempts, retryable.

The message is Salesforce's own text and may echo record values: it is stored here only,
in a table of personal data like candidates, and read back only through this store.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sfsync.adapters.postgres.session import Session, distinct_candidates
from sfsync.domain.model import AccountId, SalesforceId
from sfsync.domain.ports import PushFailure

_COLUMNS = (
    "candidate_id, contact_id, error_code, fields, message, retryable, attempts,"
    " first_seen, last_seen"
)

# The account id comes from the candidate's row (see push_state.py): not_found otherwise.
# Fields travel as one text per failure (a text[][] must be rectangular), split again here.
_RECORD = """
INSERT INTO push_failures (account_id, candidate_id, contact_id, error_code, fields,
    message, retryable, attempts, first_seen, last_seen)
SELECT c.account_id, page.candidate_id, page.contact_id, page.code,
       string_to_array(page.fields, ','), page.message, page.retryable, 1,
       %(at)s::timestamptz, %(at)s::timestamptz
FROM unnest(%(ids)s::text[], %(contacts)s::text[], %(codes)s::text[], %(fields)s::text[],
            %(messages)s::text[], %(retryable)s::boolean[])
    AS page (candidate_id, contact_id, code, fields, message, retryable)
LEFT JOIN candidates c ON c.id = page.candidate_id AND c.account_id = %(account)s
ON CONFLICT (candidate_id) DO UPDATE SET
    attempts = CASE WHEN push_failures.contact_id = EXCLUDED.contact_id
        THEN push_failures.attempts + 1 ELSE 1 END,
    first_seen = CASE WHEN push_failures.contact_id = EXCLUDED.contact_id
        THEN push_failures.first_seen ELSE EXCLUDED.first_seen END,
    contact_id = EXCLUDED.contact_id,
    error_code = EXCLUDED.error_code,
    fields = EXCLUDED.fields,
    message = EXCLUDED.message,
    retryable = EXCLUDED.retryable,
    last_seen = EXCLUDED.last_seen
"""


class PsycopgPushFailures:
    def __init__(self, session: Session) -> None:
        self._session = session

    def record(self, account_id: AccountId, failures: Sequence[PushFailure], at: datetime) -> None:
        if not failures:
            return
        distinct_candidates(f.candidate_id for f in failures)
        self._session.execute(  # with every page: no savepoint
            _RECORD,
            {
                "ids": [f.candidate_id for f in failures],
                "contacts": [f.contact_id for f in failures],
                "codes": [f.code for f in failures],
                "fields": [",".join(f.fields) for f in failures],
                "messages": [f.message for f in failures],
                "retryable": [f.retryable for f in failures],
                "at": at,
                "account": account_id,
            },
        )

    def for_candidates(
        self, account_id: AccountId, candidate_ids: Sequence[str]
    ) -> dict[str, PushFailure]:
        rows = self._session.fetchall(
            f"SELECT {_COLUMNS} FROM push_failures"
            " WHERE candidate_id = ANY(%b::text[]) AND account_id = %s",
            (list(candidate_ids), account_id),
        )
        return {row[0]: _failure(row) for row in rows}

    def retryable(
        self, account_id: AccountId, limit: int, after: str | None = None
    ) -> list[PushFailure]:
        rows = self._session.fetchall(  # push_failures_retryable_idx
            f"SELECT {_COLUMNS} FROM push_failures WHERE account_id = %s AND retryable"
            " AND candidate_id > %s ORDER BY candidate_id LIMIT %s",
            (account_id, after or "", limit),
        )
        return [_failure(row) for row in rows]

    def latest(
        self, account_id: AccountId, limit: int, *, given_up: bool = False
    ) -> list[PushFailure]:
        only = " AND NOT retryable" if given_up else ""
        rows = self._session.fetchall(  # read by ops: no index, the account's rows sorted
            f"SELECT {_COLUMNS} FROM push_failures WHERE account_id = %s{only}"
            " ORDER BY last_seen DESC, candidate_id LIMIT %s",
            (account_id, limit),
        )
        return [_failure(row) for row in rows]

    def clear(self, account_id: AccountId, candidate_ids: Sequence[str]) -> None:
        self._session.execute(
            "DELETE FROM push_failures WHERE candidate_id = ANY(%b::text[]) AND account_id = %s",
            (list(candidate_ids), account_id),
        )

    def give_up(self, account_id: AccountId, candidate_ids: Sequence[str]) -> None:
        self._session.execute(
            "UPDATE push_failures SET retryable = false"
            " WHERE candidate_id = ANY(%b::text[]) AND account_id = %s",
            (list(candidate_ids), account_id),
        )


def _failure(row: tuple[Any, ...]) -> PushFailure:
    candidate_id, contact_id, code, fields, message, retryable, *seen = row
    attempts, first_seen, last_seen = seen
    return PushFailure(
        candidate_id,
        SalesforceId(contact_id),
        code,
        tuple(fields),
        message,
        retryable,
        attempts,
        first_seen,
        last_seen,
    )
