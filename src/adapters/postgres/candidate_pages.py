"""Bulk reads and writes of a page of candidates: one query in, COPY plus one upsert out.

The upsert skips rows whose data did not change, so a re-read page costs no row versions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
import psycopg

from sfsync.adapters.postgres.failures import translated
from sfsync.adapters.postgres.session import Session
from sfsync.domain.errors import CoercionError, PermanentFailure
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
_CANDIDATE = (
    "c.id, c.account_id, c.email, c.first_name, c.last_name, c.name, c.salesforce_id,"
    " c.source_modstamp, c.attributes, c.unsubscribed, c.needs_review"
)
# One index probe per key (LATERAL ... LIMIT 1 on a unique index): during a first import
# the statistics are stale, and a plan that scans the account for every page (or, with no
# statistics at all, the table for every key) turns a 1M-row import quadratic.
SELECT_PAGE = (
    f"SELECT {_CANDIDATE} FROM unnest(string_to_array(%(ids)s, E'\\n')) k(v)"
    f" CROSS JOIN LATERAL (SELECT * FROM candidates WHERE account_id = %(account)s"
    " AND salesforce_id = k.v LIMIT 1) c"
    f" UNION ALL SELECT {_CANDIDATE} FROM unnest(string_to_array(%(emails)s, E'\\n')) k(v)"
    f" CROSS JOIN LATERAL (SELECT * FROM candidates WHERE account_id = %(account)s"
    " AND email_key = k.v LIMIT 1) c"
)


def find_for_contacts(
    session: Session, account_id: AccountId, contact_ids: Sequence[str], email_keys: Sequence[str]
) -> list[tuple[object, ...]]:
    # One text per key list: adapting thousands of keys as arrays costs more than the query.
    # A key holding a newline only loads extra candidates, which the plan then ignores.
    params = {
        "account": account_id,
        "ids": "\n".join(contact_ids),
        "emails": "\n".join(email_keys),
    }
    conn = session.connection()
    with translated():
        # Index probes, whatever the statistics say: with none yet (a first import), the
        # planner takes a LIMIT 1 seq scan for cheap and scans the table for every key.
        conn.execute("SET LOCAL enable_seqscan = off")
        return conn.execute(SELECT_PAGE, params).fetchall()


def apply_changes(
    session: Session,
    account_id: AccountId,
    upserts: Sequence[Candidate],
    deletes: Sequence[str],
    creates: Sequence[Candidate] = (),
) -> None:
    """Deletes, then upserts through the stage, then `creates` by COPY straight into the
    table (no stage, no conflict handling: a third of the cost). If one of them exists
    after all (another writer got there first), they are upserted instead."""
    if any(c.account_id != account_id for c in (*upserts, *creates)):
        raise PermanentFailure("a candidate of another account", code="wrong_account")
    conn = session.connection()
    with translated():
        conn.execute("SET LOCAL synchronous_commit = off")
        if deletes:
            conn.execute(
                "DELETE FROM candidates WHERE account_id = %s AND id = ANY(%s)",
                (account_id, list(deletes)),
            )
        if upserts:  # first: an update may free an email a new candidate takes
            _upsert(conn, upserts)
        if creates and not _inserted(session, creates):
            _upsert(conn, creates)


def _upsert(conn: psycopg.Connection[Any], candidates: Sequence[Candidate]) -> None:
    conn.execute(STAGE)
    with conn.cursor().copy(f"COPY candidate_stage ({COLUMNS}) FROM STDIN") as copy:
        _send(copy, candidates)
    conn.execute(UPSERT)  # the deferrable unique keys are checked once, at its end
    conn.execute("TRUNCATE candidate_stage")  # a second page in the same transaction


def _inserted(session: Session, candidates: Sequence[Candidate]) -> bool:
    """COPY new candidates into the table; False, with nothing written, if one clashes."""
    try:
        with session.savepoint() as conn:
            with conn.cursor().copy(f"COPY candidates ({COLUMNS}) FROM STDIN") as copy:
                _send(copy, candidates)
    except psycopg.errors.UniqueViolation:
        return False
    return True


CHUNK = 250  # rows encoded per COPY write: about 100 kB


def _send(copy: psycopg.Copy, candidates: Sequence[Candidate]) -> None:
    """Encode and send COPY text a chunk at a time: Postgres parses each chunk while the
    next one is encoded (the writer thread, an import's bottleneck, never waits for both)."""
    for start in range(0, len(candidates), CHUNK):
        copy.write("".join(map(_copy_line, candidates[start : start + CHUNK])))


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


_SPECIAL = re.compile(r"[\\\t\n\r]")


def _text(value: str | None) -> str:
    """A COPY text-format field (the format's own escapes; \\N is NULL)."""
    if value is None:
        return "\\N"
    if _SPECIAL.search(value) is None:  # nearly always: skip the four replaces
        return value
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _copy_line(c: Candidate) -> str:
    """One COPY row built with C-level string calls (psycopg's row writer is per field)."""
    texts = (
        c.id,
        c.account_id,
        c.email,
        c.email_key,  # no escapes unless the email has some
        c.first_name,
        c.last_name,
        c.name,
        c.salesforce_id,
    )
    # One search over all the text at once: a field needing escapes is rare.
    if _SPECIAL.search(
        f"{c.id}{c.account_id}{c.email}{c.first_name}{c.last_name}{c.name}{c.salesforce_id}"
    ):
        fields = list(map(_text, texts))
    else:
        fields = ["\\N" if text is None else text for text in texts]
    attributes = _json(c.attributes)  # JSON escapes tabs and newlines itself
    if "\\" in attributes:
        attributes = attributes.replace("\\", "\\\\")
    modstamp = c.source_modstamp.isoformat() if c.source_modstamp else "\\N"
    flags = ("t" if c.unsubscribed else "f", "t" if c.needs_review else "f")
    return "\t".join([*fields, modstamp, attributes, *flags]) + "\n"


def _json(attributes: Mapping[str, Any]) -> str:
    """The JSONB text of attribute values, dates and times as ISO text (orjson: a few times
    json's speed, and this runs for every imported row). Values come from the coercion, which
    refuses NaN and infinities, so orjson's NaN-as-null never applies."""
    try:
        return orjson.dumps(attributes).decode()
    except orjson.JSONEncodeError as err:
        raise CoercionError(f"an attribute value cannot be stored ({err})") from None
