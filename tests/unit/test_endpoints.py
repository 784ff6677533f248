"""The HTTP port: /metrics as given, /healthz and /readyz as JSON with 200 or 503, the
text of a failure our own (never a driver's message), a taken port named in one line."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import httpx
import pytest

from sfsync.domain.errors import TransientFailure
from sfsync.entrypoints.bootstrap import build
from sfsync.entrypoints.endpoints import Endpoints, Probes, serve
from sfsync.entrypoints.health import serve_endpoints
from sfsync.entrypoints.settings import ConfigError, Settings


def probes(alive: list[str] | None = None, ready: Exception | None = None) -> Probes:
    def check() -> Iterator[str]:
        yield "postgres: ok"
        if ready is not None:
            raise ready
        yield "rabbitmq: ok"

    return Probes(
        metrics=lambda: b"sfsync_runs_total 1.0\n",
        content_type="text/plain; version=0.0.4",
        alive=lambda: alive or [],
        ready=check,
    )


@pytest.fixture
def serving() -> Iterator[Callable[[Probes], str]]:
    started: list[Endpoints] = []

    def start(given: Probes) -> str:
        started.append(Endpoints(0, given, host="127.0.0.1"))  # the OS picks a port
        return f"http://127.0.0.1:{started[-1].port}"

    yield start
    for endpoints in started:
        endpoints.close()


def test_metrics_health_and_readiness_when_all_is_well(serving):
    url = serving(probes())
    metrics = httpx.get(f"{url}/metrics")
    assert (metrics.status_code, metrics.text) == (200, "sfsync_runs_total 1.0\n")
    assert metrics.headers["content-type"] == "text/plain; version=0.0.4"
    alive = httpx.get(f"{url}/healthz")
    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
    ready = httpx.get(f"{url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": ["postgres: ok", "rabbitmq: ok"]}
    assert httpx.get(f"{url}/other").status_code == 404


def test_dead_threads_fail_the_liveness_check(serving):
    url = serving(probes(alive=["consumer of sfsync"]))
    alive = httpx.get(f"{url}/healthz")
    assert (alive.status_code, alive.json()) == (
        503,
        {"status": "failing", "problems": ["consumer of sfsync"]},
    )


def test_a_dependency_down_fails_readiness_with_our_own_words(serving):
    url = serving(probes(ready=TransientFailure("RabbitMQ is not answering", code="rabbitmq")))
    ready = httpx.get(f"{url}/readyz")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "failing",
        "checks": ["postgres: ok"],
        "error": "rabbitmq: RabbitMQ is not answering",
    }


def test_a_foreign_error_shows_its_type_only(serving):
    url = serving(probes(ready=ValueError("password=hunter2 for ada@example.com")))
    ready = httpx.get(f"{url}/readyz")
    assert ready.status_code == 503 and ready.json()["error"] == "ValueError"
    assert "hunter2" not in ready.text and "ada@" not in ready.text


def test_a_taken_port_is_one_clear_configuration_error(serving):
    url = serving(probes())
    port = int(url.rsplit(":", 1)[1])
    with pytest.raises(ConfigError, match=f"SFSYNC_METRICS_PORT: port {port} cannot be opened"):
        Endpoints(port, probes(), host="127.0.0.1")


def test_port_0_serves_nothing():
    assert serve(0, probes()) is None


def test_the_command_default_port_applies_unless_the_setting_names_one():
    port = free_port()
    with build(Settings(metrics_port=None)) as container:  # SFSYNC_METRICS_PORT unset
        endpoints = serve_endpoints(container, port, list)
        assert endpoints is not None and endpoints.port == port
        try:
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
            assert httpx.get(f"http://127.0.0.1:{port}/metrics").text.startswith("# HELP")
        finally:
            endpoints.close()
    with build(Settings(metrics_port=0)) as container:
        assert serve_endpoints(container, port, list) is None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
