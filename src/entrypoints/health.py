"""Health checks for ops and the README's first command."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from sfsync.domain.errors import PermanentFailure
from sfsync.entrypoints.bootstrap import Container
from sfsync.entrypoints.dead_letter_view import health_line
from sfsync.entrypoints.endpoints import Endpoints, Probes, serve
from sfsync.entrypoints.settings import Settings, queue_name


def check_all(container: Container) -> Iterator[str]:
    """Yield one line per healthy dependency, and the dead letters waiting; raise on the
    first unhealthy dependency."""
    from sfsync.adapters.postgres.migrate import check_database, current_version

    settings = container.settings
    check_database(settings.database_url)
    version = current_version(settings.database_url)
    yield f"postgres: ok (schema version {version or 'none'})"
    if version is not None:
        yield dead_letters_line(container)
    yield from check_rabbitmq(settings)


def dead_letters_line(container: Container) -> str:
    try:
        return health_line(container.dead_letters().summary())
    except PermanentFailure:  # a schema from before the dead-letter columns
        return "dead letters: not counted (the schema is not current: run sfsync migrate)"


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


def serve_endpoints(
    container: Container, default_port: int, alive: Callable[[], list[str]]
) -> Endpoints | None:
    """/metrics, /healthz (`alive`) and /readyz (check_all) on SFSYNC_METRICS_PORT, or
    `default_port` when it is not set; None when it is 0."""
    metrics = container.metrics
    port = container.settings.metrics_port
    probes = Probes(
        metrics=metrics.exposition,
        content_type=metrics.content_type,
        alive=alive,
        ready=lambda: check_all(container),
    )
    return serve(default_port if port is None else port, probes)
