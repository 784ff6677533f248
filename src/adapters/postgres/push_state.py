"""What Salesforce acknowledged per candidate, written with the push's page (one statement)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from sfsync.adapters.postgres.session import Session, distinct_candidates
from sfsync.domain.model import AccountId, SalesforceId
from sfsync.domain.ports import PushAck
from sfsync.domain.stored_values import attribute_to_json

# Each statement probes keys row by row (planner_without): right for a page, and what
# the planner may not see when the account's candidates came after its statistics.
# Arrays go in binary (%b): psycopg quotes each element of a text array with a regex,
# which costs more than the statement for a page of thousands.
# The account id comes from the candidate's row: a candidate the account does not hold
# leaves it NULL, which the column refuses, so the whole page is refused (not_found).
_ACKNOWLEDGE = """
INSERT INTO push_state
    (candidate_id, account_id, contact_id, acknowledged, acknowledged_at, contact_modstamp,
     planned_from, config, sending)
SELECT page.candidate_id, c.account_id, page.contact_id, page.acknowledged, page.at,
       page.modstamp, page.planned_from, page.config, page.sending
FROM unnest(%b::text[], %b::text[], %b::jsonb[], %b::timestamptz[], %b::timestamptz[],
            %b::text[], %b::text[], %b::jsonb[])
    AS page (candidate_id, contact_id, acknowledged, at, modstamp, planned_from, config,
             sending)
LEFT JOIN candidates c ON c.id = page.candidate_id AND c.account_id = %s
ON CONFLICT (candidate_id) DO UPDATE SET
    acknowledged = CASE WHEN push_state.contact_id = EXCLUDED.contact_id
        THEN push_state.acknowledged || EXCLUDED.acknowledged
        ELSE EXCLUDED.acknowledged END,
    contact_id = EXCLUDED.contact_id,
    acknowledged_at = EXCLUDED.acknowledged_at,
    contact_modstamp = EXCLUDED.contact_modstamp,
    planned_from = coalesce(EXCLUDED.planned_from, push_state.planned_from),
    config = coalesce(EXCLUDED.config, push_state.config),
    sending = EXCLUDED.sending
"""

# By Contact: the candidate linked to it now (its unique key: LATERAL probes it for each
# Contact, whatever the statistics say), then its push_state row.
_SETTLE = """
UPDATE push_state p SET
    acknowledged = CASE WHEN page.accepted THEN p.acknowledged || p.sending
        ELSE p.acknowledged END,
    acknowledged_at = %s,
    sending = NULL
FROM unnest(%b::text[], %b::boolean[]) AS page (contact_id, accepted)
CROSS JOIN LATERAL (SELECT id FROM candidates
                    WHERE salesforce_id = page.contact_id AND account_id = %s LIMIT 1) c
WHERE p.candidate_id = c.id AND p.contact_id = page.contact_id AND p.sending IS NOT NULL
RETURNING p.contact_id, p.candidate_id
"""

_READ_BACK = """
INSERT INTO push_state
    (candidate_id, account_id, contact_id, acknowledged, acknowledged_at, contact_modstamp)
SELECT page.candidate_id, c.account_id, page.contact_id, page.acknowledged, page.at,
       page.modstamp
FROM unnest(%b::text[], %b::text[], %b::jsonb[], %b::timestamptz[], %b::timestamptz[])
    AS page (candidate_id, contact_id, acknowledged, at, modstamp)
LEFT JOIN candidates c ON c.id = page.candidate_id AND c.account_id = %s
ON CONFLICT (candidate_id) DO UPDATE SET
    acknowledged = push_state.acknowledged || EXCLUDED.acknowledged
WHERE push_state.contact_id = EXCLUDED.contact_id
"""


class PsycopgPushState:
    def __init__(self, session: Session) -> None:
        self._session = session

    def acknowledged(
        self, account_id: AccountId, candidate_ids: Sequence[str]
    ) -> dict[str, PushAck]:
        rows = self._session.fetchall(
            "SELECT candidate_id, contact_id, acknowledged, acknowledged_at, contact_modstamp"
            " FROM push_state WHERE candidate_id = ANY(%s) AND account_id = %s",
            (list(candidate_ids), account_id),
        )
        return {
            row[0]: PushAck(row[0], SalesforceId(row[1]), row[2], row[3], row[4]) for row in rows
        }

    def acknowledge(self, account_id: AccountId, acks: Sequence[PushAck]) -> None:
        if acks:  # with every page: no savepoint
            plan = ([a.planned_from for a in acks], [a.config for a in acks])
            self._write(_ACKNOWLEDGE, account_id, acks, *plan, [_json(a.sending) for a in acks])

    def settle(
        self,
        account_id: AccountId,
        accepted: Sequence[SalesforceId],
        refused: Sequence[SalesforceId],
        at: datetime,
    ) -> dict[SalesforceId, str]:
        if not accepted and not refused:
            return {}
        answers = [*accepted, *refused], [True] * len(accepted) + [False] * len(refused)
        with self._session.planner_without("hashjoin", "mergejoin") as conn:
            rows = conn.execute(_SETTLE, (at, *answers, account_id)).fetchall()
        return {SalesforceId(contact_id): candidate_id for contact_id, candidate_id in rows}

    def read_back(self, account_id: AccountId, acks: Sequence[PushAck]) -> None:
        if acks:
            self._write(_READ_BACK, account_id, acks)

    def _write(
        self, sql: str, account_id: AccountId, acks: Sequence[PushAck], *more: Sequence[object]
    ) -> None:
        """One statement for a page: the acks' columns as arrays, then `more` of them."""
        distinct_candidates(ack.candidate_id for ack in acks)
        columns = (
            [ack.candidate_id for ack in acks],
            [ack.contact_id for ack in acks],
            [_json(ack.values) for ack in acks],
            [ack.acknowledged_at for ack in acks],
            [ack.contact_modstamp for ack in acks],
        )
        with self._session.planner_without("hashjoin", "mergejoin") as conn:
            conn.execute(sql, (*columns, *more, account_id))


def _json(values: Mapping[str, Any] | None) -> Jsonb | None:
    return None if values is None else Jsonb({k: attribute_to_json(v) for k, v in values.items()})
