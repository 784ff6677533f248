"""Health checks for ops and the README's first command."""

from __future__ import annotations

from collections.abc import Iterator

import pika
import pika.exceptions

from sfsync.domain.errors import TransientFailure
from sfsync.entrypoints.settings import Settings


def check_rabbitmq(amqp_url: str) -> None:
    params = pika.URLParameters(amqp_url)
    params.socket_timeout = 5
    params.connection_attempts = 1
    try:
        pika.BlockingConnection(params).close()
    except pika.exceptions.AMQPError as err:
        raise TransientFailure(
            f"RabbitMQ is not reachable at {params.host}:{params.port} ({type(err).__name__})"
        ) from err


def check_all(settings: Settings) -> Iterator[str]:
    """Yield one line per healthy dependency; raise on the first unhealthy one."""
    from sfsync.adapters.postgres.migrate import check_database, current_version

    check_database(settings.database_url)
    yield f"postgres: ok (schema version {current_version(settings.database_url) or 'none'})"
    check_rabbitmq(settings.amqp_url)
    yield "rabbitmq: ok"
    yield check_our_queues(settings)


def check_our_queues(settings: Settings) -> str:
    """Our three queues have the worker's arguments (raises naming the one that has not)."""
    from sfsync.adapters.rabbitmq.broker import check_queues
    from sfsync.entrypoints.worker import queue_name

    queue = queue_name(settings)
    missing = check_queues(settings.amqp_url, queue)
    if missing:
        return f"queues: {', '.join(missing)} not declared yet (the worker declares them at start)"
    return f"queues: ok ({queue}, {queue}.DQ, {queue}.XQ as the worker declares them)"
