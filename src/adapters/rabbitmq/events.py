"""Listens for our own events (sync.completed), as the web app would: a queue bound by type."""

from __future__ import annotations

import json
import time
from typing import Any

import pika

from sfsync.adapters.rabbitmq.publisher import EVENTS_EXCHANGE


class EventListener:
    """An exclusive, auto-deleted queue bound to `event_type`; bind it before you send."""

    def __init__(self, amqp_url: str, event_type: str, exchange: str = EVENTS_EXCHANGE) -> None:
        self.connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        self.channel = self.connection.channel()
        self.channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        self.queue = self.channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        self.channel.queue_bind(self.queue, exchange, routing_key=event_type)

    def __enter__(self) -> EventListener:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.connection.is_open:
            self.connection.close()

    def next_for(self, request_id: str, wait: float = 0.0) -> dict[str, Any] | None:
        """The next event about `request_id`, waiting up to `wait` seconds; others are dropped.

        Events are consumed as they arrive (no polling), so timings taken around this hold;
        the consumer stays open between calls, so nothing delivered in between is lost.
        """
        deadline = time.monotonic() + wait
        for method, _, body in self.channel.consume(
            self.queue, auto_ack=True, inactivity_timeout=0.05
        ):
            if method is not None:
                event = json.loads(body)
                if event.get("request_id") == request_id:
                    return event
            if time.monotonic() >= deadline:
                return None
        return None
