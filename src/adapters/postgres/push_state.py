"""What Salesforce acknowledged per candidate, written with the push's page (one statement)."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg.types.json import Jsonb

from sfsync.adapters.postgres.session import Session, distinct_candidates
from sfsync.domain.model import AccountId, SalesforceId
from sfsync.domain.ports import PushAck
from sfsync.domain.stored_values import attribute_to_json

# Arrays go in binary (%b): psycopg quotes each element of a text array with a regex,
# which costs more than the statement for a page of thousands.
# The account id comes from the candidate's row: a candidate the account does not hold
# leaves it NULL, which the column refuses, so the whole page is refused (not_found).
_ACKNOWLEDGE = """
INSERT INTO push_state
    (candidate_id, account_id, contact_id, acknowledged, acknowledged_at, contact_modstamp,
     planned_from, in_flight, config)
SELECT page.candidate_id, c.account_id, page.contact_id, page.acknowledged, page.at,
       page.modstamp, page.planned_from, page.in_flight, page.config
FROM unnest(%b::text[], %b::text[], %b::jsonb[], %b::timestamptz[], %b::timestamptz[],
            %b::text[], %b::boolean[], %b::text[])
    AS page (candidate_id, contact_id, acknowledged, at, modstamp, planned_from, in_flight,
             config)
LEFT JOIN candidates c ON c.id = page.candidate_id AND c.account_id = %s
ON CONFLICT (candidate_id) DO UPDATE SET
    acknowledged = CASE WHEN push_state.contact_id = EXCLUDED.contact_id
        THEN push_state.acknowledged || EXCLUDED.acknowledged
        ELSE EXCLUDED.acknowledged END,
    contact_id = EXCLUDED.contact_id,
    acknowledged_at = EXCLUDED.acknowledged_at,
    contact_modstamp = EXCLUDED.contact_modstamp,
    planned_from = coalesce(EXCLUDED.planned_from, push_state.planned_from),
    in_flight = EXCLUDED.in_flight,
    config = coalesce(EXCLUDED.config, push_state.config)
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
            plan = ([a.planned_from for a in acks], [a.in_flight for a in acks])
            self._write(_ACKNOWLEDGE, account_id, acks, *plan, [a.config for a in acks])

    def read_back(self, account_id: AccountId, acks: Sequence[PushAck]) -> None:
        if acks:
            self._write(_READ_BACK, account_id, acks)

    def _write(
        self, sql: str, account_id: AccountId, acks: Sequence[PushAck], *more: Sequence[object]
    ) -> None:
        """One statement for a page: the acks' columns as arrays, then `more` of them."""
        distinct_candidates(ack.candidate_id for ack in acks)
        values = [Jsonb({k: attribute_to_json(v) for k, v in a.values.items()}) for a in acks]
        columns = (
            [ack.candidate_id for ack in acks],
            [ack.contact_id for ack in acks],
            values,
            [ack.acknowledged_at for ack in acks],
            [ack.contact_modstamp for ack in acks],
        )
        self._session.execute(sql, (*columns, *more, account_id))
