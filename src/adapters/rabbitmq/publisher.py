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
    """One blocking connection shared by the process's threads, one publish at a time (pika
    connections are not thread-safe). The channel is in publisher-confirm mode: `publish`
    returns once RabbitMQ has the event in every queue bound for it. A nack or a dropped
    connection (RabbitMQ closes one that missed its heartbeats) is tried once more on a new
    connection, then raised as TransientFailure, so the message that published it is
    retried (and publishes it again): never dropped without a word."""

    def __init__(self, amqp_url: str, exchange: str = EVENTS_EXCHANGE) -> None:
        self.amqp_url = amqp_url
        self.exchange = exchange
        self._lock = threading.Lock()
        self._connection: Any = None
        self._channel: Any = None

    def connect(self) -> None:
        """Open the connection now (a worker does it at start, not on its first event)."""
        with self._lock:
            self._open()

    def publish(self, event_type: str, payload: Mapping[str, Any]) -> None:
        body = json.dumps(payload, separators=(",", ":"), default=str).encode()
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=2,
            type=event_type,
            message_id=str(payload.get("id", "")),
        )
        with self._lock:
            for last_try in (False, True):  # a first failure: most likely dropped while idle
                try:
                    self._open().basic_publish(self.exchange, event_type, body, properties)
                    return
                except pika.exceptions.AMQPError as err:
                    self._drop()
                    if last_try:
                        raise TransientFailure(
                            f"could not publish {event_type} ({type(err).__name__})"
                        ) from err

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _open(self) -> Any:
        if self._channel is None or self._channel.is_closed or not self._connection.is_open:
            self._drop()
            connection = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
            channel = connection.channel()
            channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
            channel.confirm_delivery()
            self._connection, self._channel = connection, channel
        return self._channel

    def _drop(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except pika.exceptions.AMQPError:
                pass
