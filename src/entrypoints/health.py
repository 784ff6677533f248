"""Health checks for ops and the README's first command."""

from __future__ import annotations

from collections.abc import Iterator

from sfsync.entrypoints.settings import Settings, queue_name


def check_all(settings: Settings) -> Iterator[str]:
    """Yield one line per healthy dependency; raise on the first unhealthy one."""
    from sfsync.adapters.postgres.migrate import check_database, current_version

    check_database(settings.database_url)
    yield f"postgres: ok (schema version {current_version(settings.database_url) or 'none'})"
    yield from check_rabbitmq(settings)


def check_rabbitmq(settings: Settings) -> Iterator[str]:
    """RabbitMQ answers, and our three queues have the worker's arguments (raises naming
    the one that has not)."""
    from sfsync.adapters.rabbitmq.broker import check_queues

    queue = queue_name(settings)
    missing = check_queues(settings.amqp_url, queue)
    yield "rabbitmq: ok"
    if missing:
        yield f"queues: {', '.join(missing)} not declared yet (the worker declares them at start)"
    else:
        yield f"queues: ok ({queue}, {queue}.DQ, {queue}.XQ as the worker declares them)"
