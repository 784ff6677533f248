"""Remembers why a message failed and records every dead letter in Postgres.

RabbitMQ's dead-letter queue forgets after 7 days and holds no reason; the table keeps both
so ops can list, inspect and replay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from dramatiq import Middleware

from sfsync.domain.errors import DomainError

log = structlog.get_logger(__name__)

ERROR_OPTION = "sfsync_error"


def describe(exception: BaseException) -> str:
    """A reason safe to store and log: our own messages, or just the type of anything else."""
    if isinstance(exception, DomainError):
        return f"{exception.code}: {exception.message}"
    return type(exception).__name__


class DeadLetterRecorder(Middleware):
    def __init__(self, record: Callable[[dict[str, Any]], None]) -> None:
        self.record = record

    def before_process_message(self, broker: Any, message: Any) -> None:
        structlog.contextvars.bind_contextvars(
            message_id=message.message_id,
            actor=message.actor_name,
            retries=message.options.get("retries", 0),
        )

    def after_process_message(
        self,
        broker: Any,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is not None:
            message.options[ERROR_OPTION] = describe(exception)
            log.warning("message.failed", reason=message.options[ERROR_OPTION])
        structlog.contextvars.clear_contextvars()

    def after_skip_message(self, broker: Any, message: Any) -> None:
        structlog.contextvars.clear_contextvars()

    def after_nack(self, broker: Any, message: Any) -> None:
        reason = (
            message.options.get(ERROR_OPTION)
            or "rejected (unknown actor, age limit or retries exhausted)"
        )
        entry = {
            "queue": message.queue_name,
            "actor": message.actor_name,
            "message_id": message.message_id,
            "reason": reason,
            "body": dict(message.kwargs),
        }
        try:
            self.record(entry)
        except Exception as err:  # the nack already happened; never lose the worker over a log row
            log.error("dead_letter.record_failed", error=type(err).__name__)
        log.warning("message.dead_lettered", reason=reason)
