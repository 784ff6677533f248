"""What Salesforce acknowledged per candidate, written with the push's page (one statement)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

from sfsync.adapters.postgres.session import Session, distinct_candidates
from sfsync.domain.model import AccountId, SalesforceId
from sfsync.domain.ports import PushAck
from sfsync.domain.stored_values import attribute_to_json

# Each statement probes keys row by row (LATERAL ... LIMIT 1, `= ANY`, probing_keys):
# right for a page, whatever statistics taken before the tables grew say.
# A page goes as one JSON document (orjson: one call, where adapting arrays of thousands
# of values cost more than the statement), read by json_to_recordset.
# The account id comes from the candidate's row: a candidate the account does not hold
# leaves it NULL, which the column refuses, so the whole page is refused (not_found).
_ACKNOWLEDGE = """
INSERT INTO push_state
    (candidate_id, account_id, contact_id, acknowledged, acknowledged_at, contact_modstamp,
     planned_from, config, sending)
SELECT page.candidate_id, c.account_id, page.contact_id, page.acknowledged, page.at,
       page.modstamp, page.planned_from, page.config, page.sending
FROM json_to_recordset(%s::json) AS page (
    candidate_id text, contact_id text, acknowledged jsonb, at timestamptz, modstamp timestamptz,
    planned_from text, config text, sending jsonb)
LEFT JOIN LATERAL (SELECT account_id FROM candidates
                   WHERE id = page.candidate_id AND account_id = %s LIMIT 1) c ON true
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

# By Contact: the candidate linked to it now (its unique key), then its push_state row
# with an update on its way to that Contact, found by key and updated by its row address.
_SETTLE = """
UPDATE push_state p SET
    acknowledged = CASE WHEN a.accepted THEN p.acknowledged || p.sending
        ELSE p.acknowledged END,
    acknowledged_at = %s,
    sending = NULL
FROM (SELECT page.accepted, t.row
      FROM unnest(%b::text[], %b::boolean[]) AS page (contact_id, accepted)
      CROSS JOIN LATERAL (SELECT id FROM candidates
                          WHERE salesforce_id = page.contact_id AND account_id = %s LIMIT 1) c
      CROSS JOIN LATERAL (SELECT ctid AS row FROM push_state
                          WHERE candidate_id = c.id AND contact_id = page.contact_id
                            AND sending IS NOT NULL LIMIT 1) t) a
WHERE p.ctid = a.row
RETURNING p.contact_id, p.candidate_id
"""

_READ_BACK = """
INSERT INTO push_state
    (candidate_id, account_id, contact_id, acknowledged, acknowledged_at, contact_modstamp)
SELECT page.candidate_id, c.account_id, page.contact_id, page.acknowledged, page.at,
       page.modstamp
FROM json_to_recordset(%s::json) AS page (
    candidate_id text, contact_id text, acknowledged jsonb, at timestamptz, modstamp timestamptz)
LEFT JOIN LATERAL (SELECT account_id FROM candidates
                   WHERE id = page.candidate_id AND account_id = %s LIMIT 1) c ON true
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
            " FROM push_state WHERE candidate_id = ANY(%b::text[]) AND account_id = %s",
            (list(candidate_ids), account_id),
        )
        return {
            row[0]: PushAck(row[0], SalesforceId(row[1]), row[2], row[3], row[4]) for row in rows
        }

    def acknowledge(self, account_id: AccountId, acks: Sequence[PushAck]) -> None:
        if acks:  # with every page: no savepoint
            self._write(_ACKNOWLEDGE, account_id, acks)

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
        with self._session.probing_keys() as conn:
            rows = conn.execute(_SETTLE, (at, *answers, account_id)).fetchall()
        return {SalesforceId(contact_id): candidate_id for contact_id, candidate_id in rows}

    def read_back(self, account_id: AccountId, acks: Sequence[PushAck]) -> None:
        if acks:
            self._write(_READ_BACK, account_id, acks)

    def _write(self, sql: str, account_id: AccountId, acks: Sequence[PushAck]) -> None:
        """One statement for a page of acks."""
        distinct_candidates(ack.candidate_id for ack in acks)
        with self._session.probing_keys() as conn:
            conn.execute(sql, (_page(acks), account_id))


def _page(acks: Sequence[PushAck]) -> str:
    rows = [
        {
            "candidate_id": ack.candidate_id,
            "contact_id": ack.contact_id,
            "acknowledged": _json(ack.values),
            "at": ack.acknowledged_at,
            "modstamp": ack.contact_modstamp,
            "planned_from": ack.planned_from,
            "config": ack.config,
            "sending": _json(ack.sending),
        }
        for ack in acks
    ]
    try:
        return orjson.dumps(rows).decode()
    except orjson.JSONEncodeError:  # an integer past 64 bits
        return json.dumps(rows, default=datetime.isoformat)


def _json(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if values is None else {k: attribute_to_json(v) for k, v in values.items()}
