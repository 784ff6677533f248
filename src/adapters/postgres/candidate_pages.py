"""Bulk reads and writes of a page of candidates: one query in, COPY plus one upsert out.

The upsert skips rows whose data did not change, so a re-read page costs no row versions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from psycopg.types.json import Jsonb

from sfsync.adapters.postgres.failures import translated
from sfsync.adapters.postgres.session import Session
from sfsync.domain.errors import PermanentFailure
from sfsync.domain.mapping import attribute_to_json
from sfsync.domain.model import AccountId, Candidate, SalesforceId

DATA = (
    "email",
    "email_key",
    "first_name",
    "last_name",
    "name",
    "salesforce_id",
    "source_modstamp",
    "attributes",
    "unsubscribed",
    "needs_review",
)
COLUMNS = ", ".join(("id", "account_id", *DATA))


def _columns(prefix: str) -> str:
    return ", ".join(f"{prefix}.{column}" for column in DATA)


STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS candidate_stage"
    " (LIKE candidates INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
UPSERT = (
    f"INSERT INTO candidates ({COLUMNS}) SELECT {COLUMNS} FROM candidate_stage"
    f" ON CONFLICT (id) DO UPDATE SET ({', '.join(DATA)}, updated_at)"
    f" = ({_columns('EXCLUDED')}, now())"
    " WHERE candidates.account_id = EXCLUDED.account_id"
    f" AND ({_columns('candidates')}) IS DISTINCT FROM ({_columns('EXCLUDED')})"
)
SELECT_PAGE = (
    "SELECT id, account_id, email, first_name, last_name, name, salesforce_id,"
    " source_modstamp, attributes, unsubscribed, needs_review FROM candidates"
    " WHERE account_id = %s AND (salesforce_id = ANY(%s) OR email_key = ANY(%s))"
)


def find_for_contacts(
    session: Session, account_id: AccountId, contact_ids: Sequence[str], email_keys: Sequence[str]
) -> list[tuple[object, ...]]:
    return session.fetchall(SELECT_PAGE, (account_id, list(contact_ids), list(email_keys)))


def apply_changes(
    session: Session, account_id: AccountId, upserts: Sequence[Candidate], deletes: Sequence[str]
) -> None:
    if any(c.account_id != account_id for c in upserts):
        raise PermanentFailure("a candidate of another account", code="wrong_account")
    conn = session.connection()
    with translated():
        if deletes:
            conn.execute(
                "DELETE FROM candidates WHERE account_id = %s AND id = ANY(%s)",
                (account_id, list(deletes)),
            )
        if not upserts:
            return
        conn.execute(STAGE)
        with conn.cursor().copy(f"COPY candidate_stage ({COLUMNS}) FROM STDIN") as copy:
            for c in upserts:
                copy.write_row(
                    (
                        c.id,
                        c.account_id,
                        c.email,
                        c.email_key,
                        c.first_name,
                        c.last_name,
                        c.name,
                        c.salesforce_id,
                        c.source_modstamp,
                        Jsonb({k: attribute_to_json(v) for k, v in c.attributes.items()}),
                        c.unsubscribed,
                        c.needs_review,
                    )
                )
        conn.execute(UPSERT)  # the deferrable unique keys are checked once, at its end
        conn.execute("TRUNCATE candidate_stage")  # a second page in the same transaction


GONE = (
    "SELECT c.salesforce_id FROM candidates c WHERE c.account_id = %s"
    " AND c.salesforce_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM reconcile_seen s"
    " WHERE s.run_id = %s AND s.salesforce_id = c.salesforce_id) ORDER BY 1"
)
MISSED = (
    "SELECT s.salesforce_id FROM reconcile_seen s JOIN candidates c"
    " ON c.account_id = %s AND c.salesforce_id = s.salesforce_id"
    " WHERE s.run_id = %s AND s.modstamp > coalesce(c.source_modstamp, '-infinity') ORDER BY 1"
)


def record_seen(session: Session, run_id: str, stamps: Sequence[tuple[str, datetime]]) -> None:
    conn = session.connection()
    with (
        translated(),
        conn.cursor().copy(
            "COPY reconcile_seen (run_id, salesforce_id, modstamp) FROM STDIN"
        ) as copy,
    ):
        for contact_id, modstamp in stamps:
            copy.write_row((run_id, contact_id, modstamp))


def reconcile_seen(
    session: Session, account_id: AccountId, run_id: str
) -> tuple[list[SalesforceId], list[SalesforceId]]:
    gone = [SalesforceId(r[0]) for r in session.fetchall(GONE, (account_id, run_id))]
    missed = [SalesforceId(r[0]) for r in session.fetchall(MISSED, (account_id, run_id))]
    with translated():
        session.connection().execute("DELETE FROM reconcile_seen WHERE run_id = %s", (run_id,))
    return gone, missed
