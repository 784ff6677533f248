"""Remembers why a message failed and records every dead letter in Postgres; retries that
RabbitMQ did not confirm are dead-lettered, not dropped; a message's ids on its log lines.

RabbitMQ's dead-letter queue forgets after 7 days and holds no reason; the table keeps both
so ops can list, inspect and replay. Logs name reasons and ids, never a body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import stamina
import structlog
from dramatiq import BrokerError, Middleware, Retry
from dramatiq.middleware import Retries

from sfsync.adapters.rabbitmq.encoder import Refused
from sfsync.domain.errors import DomainError, TransientFailure

log = structlog.get_logger(__name__)

ERROR_OPTION = "sfsync_error"
REDELIVER_OPTION = "sfsync_redeliver"  # set on a message left unacknowledged (never sent)
MAX_REASON = 500
RECORD_ATTEMPTS = 4  # about 2 s in all: Postgres restarting; the message stays in the XQ


class Redeliver(Retry):
    """Raised by an actor whose work stopped for a shutdown: its message is neither acked,
    retried nor dead-lettered; RabbitMQ delivers it again once the worker's channel closes,
    with its retries as they were."""


def describe(exception: BaseException) -> str:
    """A reason safe to store and log: our own messages, or just the type of anything else."""
    if isinstance(exception, Retry) and isinstance(exception.__cause__, DomainError):
        exception = exception.__cause__
    if isinstance(exception, DomainError):
        text = f"{exception.code}: {exception.message}"
        return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"
    return type(exception).__name__


def dead_letter(message: Any) -> dict[str, Any]:
    """The record of a rejected message: what was published, and why it failed."""
    entry = {
        "queue": message.queue_name,
        "actor": message.actor_name,
        "message_id": message.message_id,
        "reason": message.options.get(ERROR_OPTION)
        or "rejected (unknown actor, age limit or retries exhausted)",
    }
    refused = message.kwargs.get("refused")
    if isinstance(refused, Refused):
        entry.update(raw_size=refused.size, raw_sha256=refused.sha256)
        if refused.raw is None:
            entry["body"] = refused.body
        else:
            entry["raw"] = refused.raw
    elif "body" in message.kwargs:
        entry["body"] = message.kwargs["body"]
    return entry


class LogContext(Middleware):
    """Every line logged while a message is handled carries its id, actor and retries (the
    actors add its account and request, the run log its run), up to its ack or nack: first
    in the middleware list, so its after-hooks run after every other one has logged."""

    def before_process_message(self, broker: Any, message: Any) -> None:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            message_id=message.message_id,
            actor=message.actor_name,
            retries=message.options.get("retries", 0),
        )

    def after_ack(self, broker: Any, message: Any) -> None:
        structlog.contextvars.clear_contextvars()

    def after_nack(self, broker: Any, message: Any) -> None:
        structlog.contextvars.clear_contextvars()


class DeadLetterRecorder(Middleware):
    def __init__(self, record: Callable[[dict[str, Any]], None]) -> None:
        self.record = record

    def after_process_message(
        self,
        broker: Any,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is not None:
            reason = message.options[ERROR_OPTION] = describe(exception)
            if isinstance(exception, Redeliver):
                log.info("message.left_for_redelivery", reason=reason)
            elif isinstance(exception, Retry):  # expected: an account busy with another run
                log.info("message.retry", reason=reason)
            else:
                log.warning("message.failed", reason=reason)

    def after_nack(self, broker: Any, message: Any) -> None:
        entry = dead_letter(message)
        try:
            for attempt in stamina.retry_context(
                on=TransientFailure, attempts=RECORD_ATTEMPTS, wait_initial=0.2, wait_max=1.0
            ):
                with attempt:
                    self.record(entry)
        except Exception as err:  # the nack happened: the message is in RabbitMQ's XQ
            log.error(
                "dead_letter.record_failed",
                message_id=message.message_id,
                error=type(err).__name__,
            )
        log.warning("message.dead_lettered", reason=entry["reason"])


class ConfirmedRetries(Retries):
    """dramatiq's Retries, with a retry that RabbitMQ did not take in failing its message.

    The broker publishes with confirms, and its enqueue tries six times (a nack, an
    unroutable message or a lost connection each open a new channel) before it raises. Retries
    runs in an after-hook, where dramatiq logs such an error and then acks the message: the
    request would be gone. Here the message is failed instead, so it is dead-lettered and
    recorded with a reason saying so, and its run is ended (give_up.py); replay brings it back.
    A message whose actor raised Redeliver is left for the consumer not to ack.
    """

    def after_process_message(
        self,
        broker: Any,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if isinstance(exception, Redeliver):  # no retry: the message itself comes back
            message.options[REDELIVER_OPTION] = True
            return
        try:
            super().after_process_message(broker, message, result=result, exception=exception)
        except BrokerError as err:
            why = message.options.get(ERROR_OPTION) or "failed"
            message.options[ERROR_OPTION] = (
                f"{why}; its retry was not confirmed by RabbitMQ ({type(err).__name__})"
            )
            log.error("message.retry_not_enqueued", error=type(err).__name__)
            message.fail()
