"""Sends contract messages the way any other service would: plain JSON to our queue."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pika
import pika.exceptions
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from sfsync.domain.errors import TransientFailure


def send_message(amqp_url: str, queue: str, message: Mapping[str, Any]) -> None:
    """Publish `message` persistently, with confirms, to the default exchange (key = queue).

    The queue is declared with dramatiq's own arguments first, so sending before any worker
    ever started neither loses the message nor clashes with the worker's declaration.
    """
    broker = RabbitmqBroker(url=amqp_url, confirm_delivery=True)
    try:
        broker.declare_queue(queue, ensure=True)
        properties = pika.BasicProperties(
            delivery_mode=2, content_type="application/json", message_id=str(message.get("id"))
        )
        body = json.dumps(message, separators=(",", ":")).encode()
        broker.channel.basic_publish("", queue, body, properties, mandatory=True)
    except pika.exceptions.AMQPError as err:
        raise TransientFailure(f"could not send to queue {queue} ({type(err).__name__})") from err
    finally:
        broker.close()
