"""Counts each message's outcome by its type (the actor) in the Metrics port.

Placed before Retries in the middleware list: dramatiq runs after-hooks in reverse, so by
the time this one runs, Retries has either enqueued a retry or failed the message.
"""

from __future__ import annotations

from typing import Any

from dramatiq import Middleware, Retry

from sfsync.adapters.rabbitmq.middleware import Redeliver
from sfsync.domain.ports import Metrics

UNKNOWN = "unknown"


class MessageMetrics(Middleware):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def after_process_message(
        self,
        broker: Any,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if isinstance(exception, Redeliver):  # handed back at shutdown: counted when redone
            return
        kind = _type(broker, message)
        self.metrics.message(kind, "processed")
        if exception is None:
            return
        if not isinstance(exception, Retry):  # a busy account is retried, not failed
            self.metrics.message(kind, "failed")
        if not message.failed:
            self.metrics.message(kind, "retried")

    def after_nack(self, broker: Any, message: Any) -> None:
        self.metrics.message(_type(broker, message), "dead_lettered")


def _type(broker: Any, message: Any) -> str:
    """The actor's name; a name no actor has (a foreign publisher's) is `unknown`."""
    return message.actor_name if message.actor_name in broker.actors else UNKNOWN
