"""The HTTP port of a worker or scheduler: /metrics, /healthz (liveness), /readyz (readiness).

One small threaded server per process, on SFSYNC_METRICS_PORT. /healthz and /readyz answer
JSON, 200 or 503; their texts are our own (check names, error codes), never a value.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
import structlog

from sfsync.domain.errors import DomainError
from sfsync.entrypoints.settings import ConfigError

log = structlog.get_logger(__name__)

WORKER_PORT = 9400
SCHEDULER_PORT = 9401


@attrs.frozen
class Probes:
    """What the endpoints serve: the metrics text, and the two checks. `alive` returns the
    problems (none: alive); `ready` yields one line per healthy dependency and raises on
    the first that is not."""

    metrics: Callable[[], bytes]
    content_type: str
    alive: Callable[[], list[str]]
    ready: Callable[[], Iterable[str]]


class Endpoints:
    """Serves `probes` on `port` (0.0.0.0) in a daemon thread until close()."""

    def __init__(self, port: int, probes: Probes, host: str = "0.0.0.0") -> None:
        handler = type("Handler", (_Handler,), {"probes": probes})
        try:
            self._server = ThreadingHTTPServer((host, port), handler)
        except OSError as err:
            raise ConfigError(
                f"SFSYNC_METRICS_PORT: port {port} cannot be opened ({err.strerror}); give each"
                " process on this machine its own port, or 0 to turn the endpoints off"
            ) from None
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},  # close() waits for one poll
            name="sfsync-endpoints",
            daemon=True,
        )
        self._thread.start()
        log.info("endpoints.started", port=self.port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def serve(port: int, probes: Probes) -> Endpoints | None:
    """The endpoints on `port`, or None when it is 0 (off)."""
    return Endpoints(port, probes) if port else None


class _Handler(BaseHTTPRequestHandler):
    probes: Probes

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = self.path.split("?")[0]
        if path == "/metrics":
            self._send(200, self.probes.metrics(), self.probes.content_type)
        elif path == "/healthz":
            problems = self.probes.alive()
            body = {"status": "failing", "problems": problems} if problems else {"status": "ok"}
            self._json(503 if problems else 200, body)
        elif path == "/readyz":
            self._json(*_readiness(self.probes.ready))
        else:
            self._json(404, {"status": "not_found", "paths": ["/metrics", "/healthz", "/readyz"]})

    def _json(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Probes every few seconds: not logged."""


def _readiness(ready: Callable[[], Iterable[str]]) -> tuple[int, dict[str, Any]]:
    checks: list[str] = []
    try:
        checks.extend(ready())
    except DomainError as err:  # our own message: names the dependency and the fix
        return 503, {"status": "failing", "checks": checks, "error": f"{err.code}: {err.message}"}
    except Exception as err:  # anything else: its type only (a driver's text may hold values)
        return 503, {"status": "failing", "checks": checks, "error": type(err).__name__}
    return 200, {"status": "ok", "checks": checks}
