"""Consent changes: appended with their source and time, never updated."""

from __future__ import annotations

from collections.abc import Sequence

from sfsync.adapters.postgres.session import Session
from sfsync.domain.model import AccountId
from sfsync.domain.push.consent import ConsentChange, ConsentSource

# The account id comes from the candidate's row (see push_state.py): not_found otherwise.
_APPEND = """
INSERT INTO consent_changes (account_id, candidate_id, unsubscribed, source, changed_at)
SELECT c.account_id, page.candidate_id, page.unsubscribed, page.source, page.at
FROM unnest(%s::text[], %s::boolean[], %s::text[], %s::timestamptz[])
    WITH ORDINALITY AS page (candidate_id, unsubscribed, source, at, n)
LEFT JOIN candidates c ON c.id = page.candidate_id AND c.account_id = %s
ORDER BY page.n
"""


class PsycopgConsent:
    def __init__(self, session: Session) -> None:
        self._session = session

    def append(self, account_id: AccountId, changes: Sequence[ConsentChange]) -> None:
        if not changes:
            return
        self._session.execute(
            _APPEND,
            (
                [change.candidate_id for change in changes],
                [change.unsubscribed for change in changes],
                [change.source.value for change in changes],
                [change.at for change in changes],
                account_id,
            ),
        )

    def history(self, account_id: AccountId, candidate_id: str) -> list[ConsentChange]:
        rows = self._session.fetchall(
            "SELECT candidate_id, unsubscribed, source, changed_at FROM consent_changes"
            " WHERE candidate_id = %s AND account_id = %s ORDER BY changed_at, id",
            (candidate_id, account_id),
        )
        return [ConsentChange(row[0], row[1], ConsentSource(row[2]), row[3]) for row in rows]
