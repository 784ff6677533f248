"""Our queues on RabbitMQ: dramatiq's broker with an arrival check, and a queue-arguments check.

A message is only run from the queue it is addressed to: the delay queue (`.DQ`) takes only
the worker's own delayed retries, so a body published there directly, or a signed envelope
moved from one queue to the other, is refused (acking it through another queue's channel
would ack the wrong delivery). A message stopped by a shutdown (Redeliver) is not acked at
all: RabbitMQ hands it out again, as after a crash, but nothing was half done.

RabbitMQ keeps a queue's arguments for life: if someone declared `sfsync` first with other
arguments, every declaration of ours fails with 406 PRECONDITION_FAILED. `check_queues`
says so in one line, with the fix.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pika
import pika.exceptions
from dramatiq import Message, MessageProxy
from dramatiq.brokers.rabbitmq import (
    DEAD_MESSAGE_TTL,
    RabbitmqBroker,
    _RabbitmqConsumer,
    _RabbitmqMessage,
)
from dramatiq.common import dq_name, xq_name

from sfsync.adapters.rabbitmq.encoder import INVALID_ACTOR, Refused
from sfsync.adapters.rabbitmq.middleware import REDELIVER_OPTION
from sfsync.domain.errors import PermanentFailure, TransientFailure


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

    def ack(self, message: MessageProxy) -> None:
        if message.options.get(REDELIVER_OPTION):  # RabbitMQ redelivers it once we close
            self.known_tags.discard(getattr(message, "_tag", None))
            return
        super().ack(message)


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


def expected_queues(queue: str) -> dict[str, dict[str, Any]]:
    """The three durable queues and the arguments dramatiq declares them with."""
    dead_letters = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": xq_name(queue)}
    return {
        queue: dead_letters,
        dq_name(queue): dead_letters,
        xq_name(queue): {"x-message-ttl": DEAD_MESSAGE_TTL},
    }


def connect_once(amqp_url: str) -> pika.BlockingConnection:
    """One connection attempt with a short timeout; TransientFailure naming the host."""
    params = pika.URLParameters(amqp_url)
    params.socket_timeout = 5
    params.connection_attempts = 1
    try:
        return pika.BlockingConnection(params)
    except pika.exceptions.AMQPError as err:
        raise TransientFailure(
            f"RabbitMQ is not reachable at {params.host}:{params.port} ({type(err).__name__})"
        ) from None


def check_queues(amqp_url: str, queue: str) -> list[str]:
    """Check that our queues, where they exist, have the arguments the worker declares.

    Returns the queues that do not exist yet (the worker declares them when it starts);
    raises PermanentFailure with one line naming the queue, the difference and the fix.
    Never creates a queue: each is looked up passively before it is compared.
    """
    connection = connect_once(amqp_url)
    missing = []
    try:
        with _pika_channel_closes_unlogged():
            for name, arguments in expected_queues(queue).items():
                channel = connection.channel()  # a failed declare closes its channel
                try:
                    channel.queue_declare(name, passive=True)
                    channel.queue_declare(name, durable=True, arguments=arguments)
                except pika.exceptions.ChannelClosedByBroker as err:
                    if err.reply_code != 404:
                        raise PermanentFailure(_refusal(name, err), code="queue_mismatch") from None
                    missing.append(name)
                else:
                    channel.close()
    finally:
        connection.close()
    return missing


@contextmanager
def _pika_channel_closes_unlogged() -> Iterator[None]:
    """pika logs every channel the broker closes as a warning; here a close is an answer."""

    def keep(record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Received remote Channel.Close")

    logger = logging.getLogger("pika.channel")
    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)


_INEQUIVALENT = re.compile(r"inequivalent arg '([^']+)'.*received (.+) but current is (.+)$")


def _refusal(name: str, err: pika.exceptions.ChannelClosedByBroker) -> str:
    text = str(err.reply_text)[:300]
    fix = (
        f"delete it once it is empty (rabbitmqctl delete_queue {name})"
        " or set SFSYNC_QUEUE_PREFIX to use other queues"
    )
    if err.reply_code != 406:
        return f"queue {name} cannot be used by sfsync ({err.reply_code} {text}): {fix}"
    match = _INEQUIVALENT.search(text)
    if match:
        arg, ours, theirs = match.groups()
        text = f"argument {arg}: sfsync declares {ours}, the queue has {theirs}"
    return f"queue {name} was declared by someone else with other arguments ({text}): {fix}"
