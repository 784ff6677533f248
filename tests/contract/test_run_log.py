"""RunLog contract: the recording fake and the structlog adapter take the same calls, and the
adapter's lines come out of the real log pipeline (JSON, redaction) exactly as called."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfsync.adapters.structlog_run_log import StructlogRunLog
from sfsync.domain.messages import is_identifier
from sfsync.domain.model import AccountId
from sfsync.domain.ports import RunIds, RunLog
from sfsync.entrypoints.logs import configure_logging
from tests.fakes import RecordingRunLog
from tests.logging_reset import logging_restored

Call = tuple[str, RunIds, dict[str, Any]]
IDS = RunIds(AccountId("acc_7f3a"), "9b1d6c2e-3f4a-4b5c-8d6e-7f8091a2b3c4", "run:2024.1-a")
BUSY = RunIds(AccountId("acc_7f3a"), "req-busy", None)
PAGE = {"seen": 2000, "created": 1990, "skipped": 7, "errors": 3}


def one_run(log: RunLog) -> list[Call]:
    """One of each call, as a run makes them; returns what was called."""
    log.skipped(BUSY, reason="busy")
    log.started(IDS, scope="import", resumed=True)
    log.page(IDS, mode="incremental", counts=PAGE, totals=PAGE, expected=None)
    log.page(IDS, mode="incremental", counts={"seen": 5}, totals={"seen": 2005}, expected=2005)
    log.finished(IDS, status="failed", mode=None, totals={}, seconds=12.5, error="not_connected")
    return [
        ("skipped", BUSY, {"reason": "busy"}),
        ("started", IDS, {"scope": "import", "resumed": True}),
        ("page", IDS, {"mode": "incremental", "counts": PAGE, "totals": PAGE, "expected": None}),
        (
            "page",
            IDS,
            {
                "mode": "incremental",
                "counts": {"seen": 5},
                "totals": {"seen": 2005},
                "expected": 2005,
            },
        ),
        (
            "finished",
            IDS,
            {
                "status": "failed",
                "mode": None,
                "totals": {},
                "seconds": 12.5,
                "error": "not_connected",
            },
        ),
    ]


class LogLines:
    """What the process's real log pipeline wrote, as JSON lines."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def calls(self) -> list[Call]:
        """The run lines read back as the calls that wrote them."""
        found = []
        for line in self.lines():
            ids = RunIds(line.pop("account_id"), line.pop("request_id"), line.pop("run_id"))
            name = line.pop("event").removeprefix("run.")
            for key in ("timestamp", "level", "logger"):
                line.pop(key)
            if "duration_s" in line:
                line["seconds"] = line.pop("duration_s")
            found.append((name, ids, line))
        return found


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    captured = LogLines()
    with logging_restored():
        configure_logging("json", "debug", captured.stream)
        yield captured


@pytest.fixture(params=["fake", "structlog"])
def run_log(request: pytest.FixtureRequest) -> tuple[RunLog, Callable[[], list[Call]]]:
    """A RunLog, and how to read back the calls it was given."""
    if request.param == "fake":
        fake = RecordingRunLog()
        return fake, lambda: fake.calls
    return StructlogRunLog(), request.getfixturevalue("log_lines").calls


def test_each_call_is_kept_as_it_was_made(run_log):
    log, read_back = run_log
    called = one_run(log)
    assert read_back() == called


def test_every_line_carries_the_three_ids_and_a_plain_event_name(log_lines):
    one_run(StructlogRunLog())
    lines = log_lines.lines()
    assert [line["event"] for line in lines] == [
        "run.skipped",
        "run.started",
        "run.page",
        "run.page",
        "run.finished",
    ]
    for line in lines:
        assert {"account_id", "run_id", "request_id"} <= set(line)
        assert line["logger"] == "sfsync.run"
    assert lines[0]["run_id"] is None and lines[-1]["run_id"] == IDS.run_id


def test_runs_an_operator_may_act_on_end_at_warning(log_lines):
    log = StructlogRunLog()
    for status in ("succeeded", "partial", "quota", "failed"):
        log.finished(IDS, status=status, mode="full", totals={}, seconds=0.0, error=None)
    levels = [(line["status"], line["level"]) for line in log_lines.lines()]
    assert levels == [
        ("succeeded", "info"),
        ("partial", "info"),
        ("quota", "warning"),
        ("failed", "warning"),
    ]


IDENTIFIERS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}", fullmatch=True)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(account=IDENTIFIERS, request_id=IDENTIFIERS, run_id=IDENTIFIERS)
def test_any_contract_identifier_passes_the_log_pipeline_unchanged(
    log_lines, account, request_id, run_id
):
    assert is_identifier(account) and is_identifier(request_id)
    log_lines.stream.truncate(0)
    log_lines.stream.seek(0)
    StructlogRunLog().skipped(RunIds(AccountId(account), request_id, run_id), reason="busy")
    ((name, ids, _),) = log_lines.calls()
    assert (name, ids) == ("skipped", RunIds(AccountId(account), request_id, run_id))
