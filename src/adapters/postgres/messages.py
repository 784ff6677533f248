"""Ids of processed messages, claimed in the handler's own transaction (idempotency)."""

from __future__ import annotations

from sfsync.adapters.postgres.session import Session


class PsycopgProcessedMessages:
    def __init__(self, session: Session) -> None:
        self._session = session

    def claim(self, message_id: str) -> bool:
        """Record the id; False when it was already processed (a redelivery).

        A concurrent claim of the same id waits for this transaction: it gets False if this
        one commits and True if it rolls back, so the work and the claim commit together.
        """
        inserted = self._session.write(
            "INSERT INTO processed_messages (message_id) VALUES (%s)"
            " ON CONFLICT (message_id) DO NOTHING",
            (message_id,),
        )
        return inserted == 1
