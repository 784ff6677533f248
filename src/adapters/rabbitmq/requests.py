"""Sends contract messages the way any other service would: plain JSON to our queue."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any

import pika
import pika.exceptions
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.errors import BrokerConnectionError

from sfsync.domain.errors import TransientFailure
from sfsync.domain.messages import SyncRequested


class MessageSender:
    """A connection to send contract messages to `queue` with, the way any other service
    would: plain JSON, persistent, confirmed, to the default exchange (key = queue).

    The queue is declared with dramatiq's own arguments first, so sending before any worker
    ever started neither loses the message nor clashes with the worker's declaration.
    """

    def __init__(self, amqp_url: str, queue: str) -> None:
        self.queue = queue
        self._tx_channel: Any = None
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
        body, properties = _encoded(message)
        try:
            self._broker.channel.basic_publish("", self.queue, body, properties, mandatory=True)
        except (pika.exceptions.AMQPError, BrokerConnectionError) as err:
            raise TransientFailure(
                f"could not send to queue {self.queue} ({type(err).__name__})"
            ) from err

    def send_all(self, messages: Sequence[Mapping[str, Any]]) -> None:
        """Send `messages` in one AMQP transaction: when it returns, the broker has taken
        every one (persisted, as a confirm would say); when it raises, none. One round trip
        for the lot, where confirms cost one each."""
        try:
            if self._tx_channel is None:
                self._tx_channel = self._broker.connection.channel()
                self._tx_channel.tx_select()
            for message in messages:
                body, properties = _encoded(message)
                self._tx_channel.basic_publish("", self.queue, body, properties)
            self._tx_channel.tx_commit()
        except pika.exceptions.AMQPError as err:
            raise TransientFailure(
                f"could not send to queue {self.queue} ({type(err).__name__})"
            ) from err

    def close(self) -> None:
        self._broker.close()


def _encoded(message: Mapping[str, Any]) -> tuple[bytes, pika.BasicProperties]:
    properties = pika.BasicProperties(
        delivery_mode=2, content_type="application/json", message_id=str(message.get("id"))
    )
    return json.dumps(message, separators=(",", ":")).encode(), properties


def send_message(amqp_url: str, queue: str, message: Mapping[str, Any]) -> None:
    """Send one message on a connection of its own (see MessageSender)."""
    with MessageSender(amqp_url, queue) as sender:
        sender.send(message)


def request_body(request: SyncRequested) -> dict[str, Any]:
    """A sync.requested as the contract's JSON."""
    return {
        "type": request.type,
        "version": request.version,
        "id": request.id,
        "requested_at": request.requested_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "account_id": request.account_id,
        "scope": request.scope.value,
        "candidate_id": request.candidate_id,
        "trigger": request.trigger.value,
        "full_resync": request.full_resync,
    }


class RequestPublisher:
    """Sends sync.requested messages (the scheduler's) on one connection, opened on first
    use and again after a failure; each call's messages in one AMQP transaction."""

    def __init__(self, amqp_url: str, queue: str) -> None:
        self._amqp_url = amqp_url
        self._queue = queue
        self._sender: MessageSender | None = None

    def send(self, requests: Sequence[SyncRequested]) -> None:
        if self._sender is None:
            self._sender = MessageSender(self._amqp_url, self._queue)
        try:
            self._sender.send_all([request_body(request) for request in requests])
        except TransientFailure:
            self.close()
            raise

    def close(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.close()
