"""Pending sign-ups and each account's asked-for flush."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sfsync.adapters.postgres.session import Session
from sfsync.domain.model import AccountId, SalesforceId
from sfsync.domain.signups import Signup, SignupOutcome

_COLUMNS = "message_id, account_id, candidate_id, email, received_at, outcome, reason, contact_ids"


class PsycopgSignups:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, signup: Signup) -> bool:
        inserted = self._session.write(
            f"INSERT INTO signups ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (message_id) DO NOTHING",
            (
                signup.message_id,
                signup.account_id,
                signup.candidate_id,
                signup.email,
                signup.received_at,
                signup.outcome.value,
                signup.reason,
                list(signup.contact_ids),
            ),
        )
        return inserted == 1

    def get(self, message_id: str) -> Signup | None:
        row = self._session.fetchone(
            f"SELECT {_COLUMNS} FROM signups WHERE message_id = %s", (message_id,)
        )
        return None if row is None else _signup(row)

    def pending(self, account_id: AccountId) -> list[Signup]:
        rows = self._session.fetchall(
            f"SELECT {_COLUMNS} FROM signups WHERE account_id = %s AND outcome = 'pending'"
            " ORDER BY received_at, message_id",
            (account_id,),
        )
        return [_signup(row) for row in rows]

    def settle(self, signups: Sequence[Signup]) -> None:
        if not signups:
            return
        with self._session.connection().cursor() as cursor:
            cursor.executemany(
                "UPDATE signups SET outcome = %s, reason = %s, contact_ids = %s"
                " WHERE message_id = %s",
                [(s.outcome.value, s.reason, list(s.contact_ids), s.message_id) for s in signups],
            )

    def claim_flush(self, account_id: AccountId, now: datetime, stale_before: datetime) -> bool:
        claimed = self._session.write(
            "INSERT INTO signup_flushes (account_id, requested_at) VALUES (%s, %s)"
            " ON CONFLICT (account_id) DO UPDATE SET requested_at = EXCLUDED.requested_at"
            " WHERE signup_flushes.requested_at < %s",
            (account_id, now, stale_before),
        )
        return claimed == 1

    def release_flush(self, account_id: AccountId) -> None:
        self._session.execute("DELETE FROM signup_flushes WHERE account_id = %s", (account_id,))


def _signup(row: tuple[Any, ...]) -> Signup:
    message_id, account_id, candidate_id, email, received_at, outcome, reason, ids = row
    return Signup(
        message_id=message_id,
        account_id=AccountId(account_id),
        candidate_id=candidate_id,
        email=email,
        received_at=received_at,
        outcome=SignupOutcome(outcome),
        reason=reason,
        contact_ids=tuple(SalesforceId(i) for i in ids),
    )
