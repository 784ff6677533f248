"""Candidates in Postgres: one row each, unique per account by email key and Contact Id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from sfsync.adapters.postgres import candidate_pages
from sfsync.adapters.postgres.session import Session
from sfsync.domain.errors import PermanentFailure
from sfsync.domain.model import AccountId, Candidate, SalesforceId, normalize_email
from sfsync.domain.stored_values import attribute_to_json

_COLUMNS = (
    "id, account_id, email, first_name, last_name, name, salesforce_id,"
    " source_modstamp, attributes, unsubscribed, needs_review"
)
_MUTABLE = (
    "email, email_key, first_name, last_name, name, salesforce_id, source_modstamp,"
    " attributes, unsubscribed, needs_review"
)


# Linked candidates in id order; with a configuration, only those that may need a write
# (a failure kept, even one given up: the report counts those skipped). What a push plans
# from is the row's stored digest, push_basis (migration 0016).
_FROM_SALESFORCE = f"""
SELECT {", ".join("c." + name.strip() for name in _COLUMNS.split(","))},
       c.attributes_changed_at, c.push_basis
FROM candidates c LEFT JOIN push_state p ON p.candidate_id = c.id
WHERE c.account_id = %(account)s AND c.salesforce_id IS NOT NULL AND c.id > %(after)s
  AND (%(config)s::text IS NULL OR p.candidate_id IS NULL OR p.sending IS NOT NULL
       OR p.config IS DISTINCT FROM %(config)s OR p.contact_id <> c.salesforce_id
       OR p.planned_from IS DISTINCT FROM c.push_basis
       OR EXISTS (SELECT 1 FROM push_failures f WHERE f.candidate_id = c.id))
ORDER BY c.id LIMIT %(limit)s
"""


class PsycopgCandidates:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, account_id: AccountId, candidate_id: str) -> Candidate | None:
        return self._one("id = %s", account_id, candidate_id)

    def account_of(self, candidate_id: str) -> AccountId | None:
        row = self._session.fetchone(
            "SELECT account_id FROM candidates WHERE id = %s", (candidate_id,)
        )
        return None if row is None else AccountId(row[0])

    def get_by_email(self, account_id: AccountId, email: str) -> Candidate | None:
        return self._one("email_key = %s", account_id, normalize_email(email))

    def get_by_salesforce_id(
        self, account_id: AccountId, contact_id: SalesforceId
    ) -> Candidate | None:
        return self._one("salesforce_id = %s", account_id, contact_id)

    def add(self, candidate: Candidate) -> None:
        self._session.write(
            f"INSERT INTO candidates (id, account_id, {_MUTABLE}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (candidate.id, candidate.account_id, *_mutable_values(candidate)),
        )

    def update(self, candidate: Candidate) -> None:
        updated = self._session.write(
            f"UPDATE candidates SET ({_MUTABLE}, updated_at)"
            " = (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())"
            " WHERE account_id = %s AND id = %s",
            (*_mutable_values(candidate), candidate.account_id, candidate.id),
        )
        if updated == 0:
            raise PermanentFailure("candidate not found", code="not_found")

    def delete(self, account_id: AccountId, candidate_id: str) -> bool:
        deleted = self._session.write(
            "DELETE FROM candidates WHERE account_id = %s AND id = %s",
            (account_id, candidate_id),
        )
        return deleted > 0

    def count(self, account_id: AccountId) -> int:
        row = self._session.fetchone(
            "SELECT count(*) FROM candidates WHERE account_id = %s", (account_id,)
        )
        return row[0] if row else 0

    def find_for_contacts(
        self, account_id: AccountId, contact_ids: Sequence[str], email_keys: Sequence[str]
    ) -> list[Candidate]:
        rows = candidate_pages.find_for_contacts(self._session, account_id, contact_ids, email_keys)
        return [_candidate(row) for row in rows]

    def apply_changes(
        self,
        account_id: AccountId,
        upserts: Sequence[Candidate],
        deletes: Sequence[str],
        *,
        creates: Sequence[Candidate] = (),
    ) -> None:
        candidate_pages.apply_changes(self._session, account_id, upserts, deletes, creates)

    def from_salesforce(
        self, account_id: AccountId, after: str | None, limit: int, changed_under: str | None = None
    ) -> list[Candidate]:
        params = {
            "account": account_id,
            "after": after or "",
            "limit": limit,
            "config": changed_under,
        }
        # The page in id order (an index, no sort), each probing push_state's key: misled
        # by the OR filter or stale statistics, the planner sorts all the rest every page.
        with self._session.probing_keys() as conn:
            rows = conn.execute(_FROM_SALESFORCE, params).fetchall()
        return [
            _candidate(row[:-2], attributes_changed_at=_times(row[-2]), push_basis=row[-1])
            for row in rows
        ]

    def record_seen(
        self, account_id: AccountId, run_id: str, stamps: Sequence[tuple[str, datetime]]
    ) -> None:
        candidate_pages.record_seen(self._session, run_id, stamps)

    def reconcile_seen(
        self, account_id: AccountId, run_id: str
    ) -> tuple[list[SalesforceId], list[SalesforceId]]:
        return candidate_pages.reconcile_seen(self._session, account_id, run_id)

    def _one(self, condition: str, account_id: AccountId, value: str) -> Candidate | None:
        row = self._session.fetchone(
            f"SELECT {_COLUMNS} FROM candidates WHERE account_id = %s AND {condition}",
            (account_id, value),
        )
        return _candidate(row) if row else None


def _times(changed: dict[str, str]) -> dict[str, datetime]:
    return {name: datetime.fromisoformat(at) for name, at in changed.items()}


def _mutable_values(candidate: Candidate) -> tuple[Any, ...]:
    """Column values in `_MUTABLE` order."""
    return (
        candidate.email,
        candidate.email_key,
        candidate.first_name,
        candidate.last_name,
        candidate.name,
        candidate.salesforce_id,
        candidate.source_modstamp,
        Jsonb({name: attribute_to_json(value) for name, value in candidate.attributes.items()}),
        candidate.unsubscribed,
        candidate.needs_review,
    )


def _candidate(row: tuple[Any, ...], **push: Any) -> Candidate:
    """A candidate from its row; `push` adds what the push reads (its change times, basis)."""
    (id_, account_id, email, first, last, name, sf_id, modstamp, attributes, unsub, review) = row
    return Candidate(
        **push,
        id=id_,
        account_id=AccountId(account_id),
        email=email,
        first_name=first,
        last_name=last,
        name=name,
        salesforce_id=SalesforceId(sf_id) if sf_id else None,
        source_modstamp=modstamp,
        attributes=attributes,
        unsubscribed=unsub,
        needs_review=review,
    )
