"""Sends contract messages the way any other service would: plain JSON to our queue."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pika
import pika.exceptions
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.errors import BrokerConnectionError

from sfsync.domain.errors import TransientFailure


class MessageSender:
    """A connection to send contract messages to `queue` with, the way any other service
    would: plain JSON, persistent, confirmed, to the default exchange (key = queue).

    The queue is declared with dramatiq's own arguments first, so sending before any worker
    ever started neither loses the message nor clashes with the worker's declaration.
    """

    def __init__(self, amqp_url: str, queue: str) -> None:
        self.queue = queue
        self._broker = RabbitmqBroker(url=amqp_url, confirm_delivery=True)
        try:
            self._broker.declare_queue(queue, ensure=True)
        except (pika.exceptions.AMQPError, BrokerConnectionError) as err:  # dramatiq wraps
            self.close()
            raise TransientFailure(
                f"could not declare queue {queue} ({type(err).__name__})"
            ) from err

    def __enter__(self) -> MessageSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, message: Mapping[str, Any]) -> None:
        properties = pika.BasicProperties(
            delivery_mode=2, content_type="application/json", message_id=str(message.get("id"))
        )
        body = json.dumps(message, separators=(",", ":")).encode()
        try:
            self._broker.channel.basic_publish("", self.queue, body, properties, mandatory=True)
        except (pika.exceptions.AMQPError, BrokerConnectionError) as err:
            raise TransientFailure(
                f"could not send to queue {self.queue} ({type(err).__name__})"
            ) from err

    def close(self) -> None:
        self._broker.close()


def send_message(amqp_url: str, queue: str, message: Mapping[str, Any]) -> None:
    """Send one message on a connection of its own (see MessageSender)."""
    with MessageSender(amqp_url, queue) as sender:
        sender.send(message)
