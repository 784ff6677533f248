"""The events publisher against the real RabbitMQ: delivery, a dropped connection, no broker."""

from __future__ import annotations

import json
import threading
import uuid

import pika
import pika.exceptions
import pytest

from sfsync.adapters.rabbitmq.events import EventListener
from sfsync.adapters.rabbitmq.publisher import PikaEventPublisher
from sfsync.domain.errors import TransientFailure


def event(request_id: str) -> dict[str, str]:
    return {"id": str(uuid.uuid4()), "request_id": request_id, "status": "succeeded"}


def test_a_published_event_reaches_a_bound_listener(amqp_url):
    publisher = PikaEventPublisher(amqp_url)
    with EventListener(amqp_url, "sync.completed") as listener:
        publisher.publish("sync.completed", event("req-1"))
        publisher.publish("sync.completed", event("req-2"))
        assert listener.next_for("req-1", wait=10)["status"] == "succeeded"
        assert listener.next_for("req-2", wait=10) is not None  # delivered meanwhile, kept
    publisher.close()


def test_threads_share_one_connection(amqp_url):
    publisher = PikaEventPublisher(amqp_url)
    ids = {f"req-t{n}" for n in range(8)}
    with EventListener(amqp_url, "sync.completed") as listener:
        threads = [
            threading.Thread(target=publisher.publish, args=("sync.completed", event(i)))
            for i in sorted(ids)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        got = set()
        for _ in ids:
            method, _, body = listener.channel.basic_get(listener.queue, auto_ack=True)
            got.add(json.loads(body)["request_id"])
    assert got == ids
    publisher.close()


def test_a_connection_dropped_while_idle_is_opened_again(amqp_url, monkeypatch):
    publisher = PikaEventPublisher(amqp_url)
    publisher.connect()
    stale = publisher._channel

    def dropped(*args, **kwargs):
        raise pika.exceptions.StreamLostError("connection reset by peer")

    monkeypatch.setattr(stale, "basic_publish", dropped)
    with EventListener(amqp_url, "sync.completed") as listener:
        publisher.publish("sync.completed", event("req-after-drop"))
        assert listener.next_for("req-after-drop", wait=10) is not None
    assert publisher._channel is not stale
    publisher.close()


def test_no_broker_is_a_transient_failure_not_a_hang():
    publisher = PikaEventPublisher("amqp://guest:guest@127.0.0.1:1/%2F?connection_attempts=1")
    with pytest.raises(TransientFailure, match="could not publish sync.completed"):
        publisher.publish("sync.completed", event("req-x"))


@pytest.fixture
def exchange(amqp_url):
    """An events exchange of the test's own, and a channel to bind queues to it with."""
    name = f"test.events.{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.exchange_declare(name, exchange_type="topic", durable=True)  # as the publisher does
    yield name, channel
    channel.exchange_delete(name)
    connection.close()


def bound_queue(channel, exchange, **arguments):
    queue = channel.queue_declare("", exclusive=True, arguments=arguments).method.queue
    channel.queue_bind(queue, exchange, "sync.completed")
    return queue


def test_publish_returns_once_rabbitmq_has_confirmed_the_event(amqp_url, exchange):
    name, channel = exchange
    queue = bound_queue(channel, name)
    publisher = PikaEventPublisher(amqp_url, name)
    for n in range(1, 4):
        publisher.publish("sync.completed", event(f"req-c{n}"))
        # no wait: a confirm comes only once the event is in every queue it was routed to
        assert channel.queue_declare(queue, passive=True).method.message_count == n
    publisher.close()


def test_an_event_rabbitmq_nacks_is_tried_once_more_then_raised(amqp_url, exchange):
    """A queue that refuses every publish (x-overflow reject-publish) makes RabbitMQ nack
    the event: the publisher tries again on a new connection, then raises."""
    name, channel = exchange
    bound_queue(channel, name, **{"x-max-length": 0, "x-overflow": "reject-publish"})
    taken = bound_queue(channel, name)
    publisher = PikaEventPublisher(amqp_url, name)
    with pytest.raises(TransientFailure, match=r"could not publish sync.completed \(NackError\)"):
        publisher.publish("sync.completed", event("req-nacked"))
    assert channel.queue_declare(taken, passive=True).method.message_count == 2  # two tries
    publisher.close()
