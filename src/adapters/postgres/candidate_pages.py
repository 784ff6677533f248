"""Bulk reads and writes of a page of candidates: one query in, COPY plus one upsert out.

The upsert skips rows whose data did not change, so a re-read page costs no row versions.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg.types.json import Jsonb

from sfsync.adapters.postgres.failures import translated
from sfsync.adapters.postgres.session import Session
from sfsync.domain.errors import PermanentFailure
from sfsync.domain.mapping import attribute_to_json
from sfsync.domain.model import AccountId, Candidate

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
        conn.execute("SET CONSTRAINTS ALL DEFERRED")  # checked at commit, like one statement
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
        conn.execute(UPSERT)
        conn.execute("TRUNCATE candidate_stage")
