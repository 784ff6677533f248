"""Dramatiq actors: decode the contract message, call the service, let errors pick the outcome.

PermanentFailure (bad input, unknown account) is listed in `throws`: dead-lettered at once
with its reason, never retried. Anything else is retried with bounded backoff; a sync that
runs past the time limit is retried too and resumes from its last committed page. When no
retry follows, the request's run is ended as failed and the client told (give_up.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dramatiq
import structlog
from dramatiq import Actor, Broker
from dramatiq.middleware import Retries

from sfsync.adapters.rabbitmq.encoder import INVALID_ACTOR, Refused
from sfsync.adapters.rabbitmq.middleware import Redeliver
from sfsync.domain.errors import Interrupted, InvalidMessage, PermanentFailure, TransientFailure
from sfsync.domain.messages import CandidateSignedUp, SyncRequested, is_identifier
from sfsync.domain.model import AccountId
from sfsync.domain.ports import SignupFlushes
from sfsync.entrypoints.codec import decode
from sfsync.entrypoints.give_up import GiveUp, reason
from sfsync.entrypoints.settings import RetrySettings
from sfsync.services.import_steps import ImportDeps
from sfsync.services.imports import give_up, run_sync
from sfsync.services.signups import SignupDeps, flush, record_signup

HANDLED_TYPES = frozenset({"sync.requested", "candidate.signed_up"})
# Actors whose messages only the worker writes: signed envelopes, never plain JSON.
FLUSH_ACTOR = "sfsync.signup_flush"
INTERNAL_ACTORS = frozenset({FLUSH_ACTOR})


class ActorFlushes:
    """SignupFlushes as a delayed message to the flush actor (signed by the encoder)."""

    def __init__(self, actor: Actor[..., None]) -> None:
        self._actor = actor

    def flush_later(self, account_id: AccountId, delay_seconds: float) -> None:
        self._actor.send_with_options(
            kwargs={"body": {"account_id": account_id}}, delay=int(delay_seconds * 1000)
        )


@contextmanager
def _retry_when_busy() -> Iterator[None]:
    """Another run holds the account: retried as dramatiq.Retry, which dramatiq logs at info
    without a traceback; the backoff and the retry budget stay the same. A run stopped by a
    shutdown leaves its message for redelivery, spending no retry."""
    try:
        yield
    except Interrupted as err:
        raise Redeliver(err.message) from err
    except TransientFailure as err:
        if err.code != "busy":
            raise
        raise dramatiq.Retry(err.message) from err


def _bind(account_id: str, request_id: str) -> None:
    """Every later line of this message's handling carries its (checked) ids; the run's
    id joins them when the run starts (StructlogRunLog); the middleware clears them."""
    structlog.contextvars.bind_contextvars(account_id=account_id, request_id=request_id)


def _retried(broker: Broker, queue_name: str, retries: RetrySettings) -> dict[str, Any]:
    """Options of an actor whose failures are retried (bad input is not: `throws`)."""
    return {
        "broker": broker,
        "queue_name": queue_name,
        "throws": (PermanentFailure,),
        "max_retries": retries.max_retries,
        "min_backoff": retries.min_backoff_ms,
        "max_backoff": retries.max_backoff_ms,
    }


def register_actors(
    broker: Broker,
    queue_name: str,
    imports: ImportDeps,
    retries: RetrySettings,
    signups: Callable[[SignupFlushes], SignupDeps] | None = None,
) -> dict[str, Any]:
    """Declare our actors on `broker` (a RabbitmqBroker, or a StubBroker in tests).

    `signups` builds the sign-up service's dependencies around the flush actor; without it
    the sign-up actors are left out (tests of the import alone).
    """

    def sync_requested(body: Any) -> None:
        request = decode(body)
        if not isinstance(request, SyncRequested):
            raise InvalidMessage("expected a sync.requested message")
        _bind(request.account_id, request.id)
        with _retry_when_busy():
            run_sync(request, imports)

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

    actors = {
        "sync.requested": dramatiq.actor(
            actor_name="sync.requested",
            time_limit=retries.time_limit_ms,
            **_retried(broker, queue_name, retries),
        )(sync_requested),
        INVALID_ACTOR: dramatiq.actor(
            broker=broker,
            actor_name=INVALID_ACTOR,
            queue_name=queue_name,
            throws=(PermanentFailure,),
            max_retries=0,
        )(invalid_message),
    }
    if signups is not None:
        actors.update(_signup_actors(broker, queue_name, retries, signups))
    return actors


def _signup_actors(
    broker: Broker,
    queue_name: str,
    retries: RetrySettings,
    make_deps: Callable[[SignupFlushes], SignupDeps],
) -> dict[str, Any]:
    def signup_flush(body: Any) -> None:
        account_id = body.get("account_id") if isinstance(body, dict) else None
        if not isinstance(account_id, str) or not is_identifier(account_id):
            raise InvalidMessage("a sign-up flush needs an account id")
        structlog.contextvars.bind_contextvars(account_id=account_id)
        with _retry_when_busy():  # an import may hold the account
            flush(AccountId(account_id), deps)

    def signed_up(body: Any) -> None:
        message = decode(body)
        if not isinstance(message, CandidateSignedUp):
            raise InvalidMessage("expected a candidate.signed_up message")
        _bind(message.account_id, message.id)
        record_signup(message, deps)

    options = _retried(broker, queue_name, retries)
    flush_actor = dramatiq.actor(actor_name=FLUSH_ACTOR, **options)(signup_flush)
    deps = make_deps(ActorFlushes(flush_actor))
    return {
        FLUSH_ACTOR: flush_actor,
        "candidate.signed_up": dramatiq.actor(actor_name="candidate.signed_up", **options)(
            signed_up
        ),
    }
