"""Dramatiq actors: decode the contract message, call the service, let errors pick the outcome.

PermanentFailure (bad input, unknown account) is listed in `throws`: dead-lettered at once
with its reason, never retried. Anything else is retried with bounded backoff; a sync that
runs past the time limit is retried too and resumes from its last committed page. When no
retry follows, the request's run is ended as failed and the client told (give_up.py).
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq import Broker
from dramatiq.middleware import Retries

from sfsync.adapters.rabbitmq.encoder import INVALID_ACTOR, Refused
from sfsync.domain.errors import InvalidMessage, PermanentFailure, TransientFailure
from sfsync.domain.messages import SyncRequested
from sfsync.entrypoints.codec import decode
from sfsync.entrypoints.give_up import GiveUp, reason
from sfsync.entrypoints.settings import RetrySettings
from sfsync.services.import_steps import ImportDeps
from sfsync.services.imports import give_up, run_sync

HANDLED_TYPES = frozenset({"sync.requested"})


def register_actors(
    broker: Broker, queue_name: str, imports: ImportDeps, retries: RetrySettings
) -> dict[str, Any]:
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

    def sync_given_up(body: Any, error: BaseException) -> None:
        try:
            request = decode(body)
        except InvalidMessage:
            return  # never a request: a dead letter, no run
        if isinstance(request, SyncRequested):
            give_up(request, reason(error), imports)

    broker.add_middleware(GiveUp("sync.requested", sync_given_up), before=Retries)

    def invalid_message(body: Any = None, refused: Refused | None = None) -> None:
        if refused is not None:
            raise InvalidMessage(refused.reason)
        decode(body)  # raises InvalidMessage naming what is wrong
        raise InvalidMessage("no handler for this message type in this worker version")

    return {
        "sync.requested": dramatiq.actor(
            broker=broker,
            actor_name="sync.requested",
            queue_name=queue_name,
            throws=(PermanentFailure,),
            max_retries=retries.max_retries,
            min_backoff=retries.min_backoff_ms,
            max_backoff=retries.max_backoff_ms,
            time_limit=retries.time_limit_ms,
        )(sync_requested),
        INVALID_ACTOR: dramatiq.actor(
            broker=broker,
            actor_name=INVALID_ACTOR,
            queue_name=queue_name,
            throws=(PermanentFailure,),
            max_retries=0,
        )(invalid_message),
    }
