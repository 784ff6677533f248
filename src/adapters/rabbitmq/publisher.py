"""Publishes our events (sync.completed) as persistent JSON on a topic exchange."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

import pika
import pika.exceptions

from sfsync.domain.errors import TransientFailure

EVENTS_EXCHANGE = "sfsync.events"


class PikaEventPublisher:
    """One blocking connection per thread (pika connections are not thread-safe)."""

    def __init__(self, amqp_url: str, exchange: str = EVENTS_EXCHANGE) -> None:
        self.amqp_url = amqp_url
        self.exchange = exchange
        self._local = threading.local()

    def _channel(self) -> Any:
        channel = getattr(self._local, "channel", None)
        if channel is None or channel.is_closed:
            connection = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
            channel = connection.channel()
            channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
            channel.confirm_delivery()
            self._local.connection, self._local.channel = connection, channel
        return channel

    def publish(self, event_type: str, payload: Mapping[str, Any]) -> None:
        body = json.dumps(payload, separators=(",", ":"), default=str).encode()
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=2,
            type=event_type,
            message_id=str(payload.get("id", "")),
        )
        try:
            self._channel().basic_publish(self.exchange, event_type, body, properties)
        except pika.exceptions.AMQPError as err:
            self.close()
            raise TransientFailure(
                f"could not publish {event_type} ({type(err).__name__})"
            ) from err

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.channel = self._local.connection = None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except pika.exceptions.AMQPError:
                pass
