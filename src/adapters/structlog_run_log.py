"""The run log as structlog lines: `run.started`, `run.page`, `run.finished`, `run.skipped`.

Every line carries account_id, run_id and request_id; the rest are codes, modes and counts
(what the RunLog port takes), so the log pipeline's redaction leaves the lines as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from sfsync.domain.ports import RunIds

LOGGER = "sfsync.run"
WARN_STATUSES = frozenset({"failed", "quota"})  # a run an operator may have to act on


class StructlogRunLog:
    def started(self, ids: RunIds, *, scope: str, resumed: bool) -> None:
        # The rest of the message's handling logs with the run's ids (its threads copy
        # the context); the message middleware clears them when the message is done.
        structlog.contextvars.bind_contextvars(**_ids(ids))
        _log().info("run.started", **_ids(ids), scope=scope, resumed=resumed)

    def page(
        self,
        ids: RunIds,
        *,
        mode: str,
        counts: Mapping[str, int],
        totals: Mapping[str, int],
        expected: int | None,
    ) -> None:
        _log().info(
            "run.page",
            **_ids(ids),
            mode=mode,
            counts=dict(counts),
            totals=dict(totals),
            expected=expected,
        )

    def finished(
        self,
        ids: RunIds,
        *,
        status: str,
        mode: str | None,
        totals: Mapping[str, int],
        seconds: float,
        error: str | None,
    ) -> None:
        log = _log()
        emit = log.warning if status in WARN_STATUSES else log.info
        emit(
            "run.finished",
            **_ids(ids),
            status=status,
            mode=mode,
            totals=dict(totals),
            duration_s=round(seconds, 3),
            error=error,
        )

    def skipped(self, ids: RunIds, *, reason: str) -> None:
        _log().info("run.skipped", **_ids(ids), reason=reason)


def _log() -> Any:
    # Looked up per line, not kept: a logger cached under one configuration would ignore
    # the next one (tests capture logs by configuring structlog anew).
    return structlog.get_logger(LOGGER)


def _ids(ids: RunIds) -> dict[str, str | None]:
    return {"account_id": ids.account_id, "run_id": ids.run_id, "request_id": ids.request_id}
