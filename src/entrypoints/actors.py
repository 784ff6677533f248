"""Dramatiq actors: decode the contract message, call the service, let errors pick the outcome.

PermanentFailure (bad input, unknown account) is listed in `throws`: dead-lettered at once
with its reason, never retried. Anything else is retried with bounded backoff; a sync that
runs past the time limit is retried too and resumes from its watermark.
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq import Broker

from sfsync.adapters.rabbitmq.encoder import INVALID_ACTOR, Refused
from sfsync.domain.errors import InvalidMessage, PermanentFailure, TransientFailure
from sfsync.domain.messages import SyncRequested
from sfsync.entrypoints.codec import decode
from sfsync.services.imports import ImportDeps, run_sync

SYNC_OPTIONS: dict[str, Any] = {
    "throws": (PermanentFailure,),
    "max_retries": 6,
    "min_backoff": 5_000,
    "max_backoff": 600_000,  # well under RabbitMQ's 30 min consumer_timeout
    "time_limit": 25 * 60_000,
}
HANDLED_TYPES = frozenset({"sync.requested"})


def register_actors(broker: Broker, queue_name: str, imports: ImportDeps) -> dict[str, Any]:
    """Declare our actors on `broker` (a RabbitmqBroker, or a StubBroker in tests)."""

    def sync_requested(body: Any) -> None:
        request = decode(body)
        if not isinstance(request, SyncRequested):
            raise InvalidMessage("expected a sync.requested message")
        try:
            run_sync(request, imports)
        except TransientFailure as err:
            if err.code != "busy":
                raise
            # Expected while another run of the account goes on: dramatiq logs a Retry at
            # info, without a traceback; the backoff and the retry budget stay the same.
            raise dramatiq.Retry(err.message) from err

    def invalid_message(body: Any = None, refused: Refused | None = None) -> None:
        if refused is not None:
            raise InvalidMessage(refused.reason)
        decode(body)  # raises InvalidMessage naming what is wrong
        raise InvalidMessage("no handler for this message type in this worker version")

    return {
        "sync.requested": dramatiq.actor(
            sync_requested,
            broker=broker,
            actor_name="sync.requested",
            queue_name=queue_name,
            **SYNC_OPTIONS,
        ),
        INVALID_ACTOR: dramatiq.actor(
            invalid_message,
            broker=broker,
            actor_name=INVALID_ACTOR,
            queue_name=queue_name,
            throws=(PermanentFailure,),
            max_retries=0,
        ),
    }
