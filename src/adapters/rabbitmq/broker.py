"""Our queues on RabbitMQ: dramatiq's broker with an arrival check.

A message is only run from the queue it is addressed to: the delay queue (`.DQ`) takes only
the worker's own delayed retries, so a body published there directly, or a signed envelope
moved from one queue to the other, is refused (acking it through another queue's channel
would ack the wrong delivery).
"""

from __future__ import annotations

from dramatiq import Message
from dramatiq.brokers.rabbitmq import (
    RabbitmqBroker,
    _RabbitmqConsumer,
    _RabbitmqMessage,
)

from sfsync.adapters.rabbitmq.encoder import INVALID_ACTOR, Refused


class ContractBroker(RabbitmqBroker):
    @property
    def consumer_class(self) -> type[_RabbitmqConsumer]:
        return _ArrivalCheckingConsumer


class _ArrivalCheckingConsumer(_RabbitmqConsumer):
    def __next__(self) -> _RabbitmqMessage | None:
        message = super().__next__()
        if message is None or message.queue_name == self.queue_name:
            return message
        return _RabbitmqMessage(
            message.redelivered, message._tag, misrouted(message._message, self.queue_name)
        )


def misrouted(message: Message, arrived_on: str) -> Message:
    """An invalid-message copy of `message`, which arrived on a queue it is not addressed to."""
    refused = message.kwargs.get("refused")
    if not isinstance(refused, Refused):
        refused = Refused(
            reason=(
                f"message arrived on {arrived_on} but is addressed to {message.queue_name};"
                " publish the plain contract JSON to the main queue only"
            ),
            size=None,
            sha256=None,
            body=message.kwargs.get("body"),
        )
    return Message(
        queue_name=arrived_on,
        actor_name=INVALID_ACTOR,
        args=(),
        kwargs={"refused": refused},
        options={},
        message_id=message.message_id,
        message_timestamp=message.message_timestamp,
    )
