"""MessageMetrics: each outcome counted once; a shutdown's hand-back is not an outcome."""

from __future__ import annotations

import attrs
from dramatiq import Retry

from sfsync.adapters.rabbitmq.message_metrics import MessageMetrics
from sfsync.adapters.rabbitmq.middleware import Redeliver
from tests.fakes import RecordingMetrics


@attrs.define
class Message:
    actor_name: str = "sync_requested"
    failed: bool = False


@attrs.define
class Broker:
    actors: dict[str, object] = attrs.Factory(lambda: {"sync_requested": object()})


def outcomes(exception: BaseException | None, failed: bool = False) -> list[tuple[str, str]]:
    metrics = RecordingMetrics()
    middleware = MessageMetrics(metrics)
    middleware.after_process_message(Broker(), Message(failed=failed), exception=exception)
    return [(kind, outcome) for (name, kind, outcome) in metrics.counts if name == "messages"]


def test_a_handled_message_is_processed() -> None:
    assert outcomes(None) == [("sync_requested", "processed")]


def test_a_retried_message_is_processed_and_retried_not_failed() -> None:
    assert outcomes(Retry("busy")) == [
        ("sync_requested", "processed"),
        ("sync_requested", "retried"),
    ]


def test_an_error_with_no_retry_left_is_failed() -> None:
    assert outcomes(ValueError("x"), failed=True) == [
        ("sync_requested", "processed"),
        ("sync_requested", "failed"),
    ]


def test_a_message_handed_back_at_shutdown_counts_nothing() -> None:
    assert outcomes(Redeliver("stopping")) == []
