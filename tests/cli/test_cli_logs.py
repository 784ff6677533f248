"""CLI commands log through sfsync's pipeline, on stderr: a Salesforce outage shows as
sfsync's retry lines, never as a library's raw lines or Salesforce's text."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
import structlog

from sfsync.entrypoints.cli import configure_cli_logging
from sfsync.entrypoints.logs import configure_logging
from tests.cli.test_cli import sfsync
from tests.logging_reset import logging_restored

# structlog's console renderer, without colours: "<time>Z [<level>] <event> [<logger>] k=v"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z \[(\w+) *\] ([\w.]+) +\[([\w.]+)\] (.*)$")
OUTAGE = {"status": 503, "error_code": "SERVER_UNAVAILABLE", "message": "Ada Lovelace"}


@pytest.fixture(name="env")
def _env(cli_env, sf_org) -> dict[str, str]:
    return cli_env | {"SFSYNC_SF_CA_BUNDLE": sf_org.ca_path}


def log_lines(stderr: str) -> list[tuple[str, str, str, str]]:
    """(level, event, logger, key=values) of each log line; every other line is left out."""
    return [m.groups() for m in map(LOG_LINE.match, stderr.splitlines()) if m]


@pytest.mark.integration
class TestSalesforceDown:
    def test_retries_are_warning_lines_on_stderr_without_salesforce_text(
        self, env, sf_org, connected
    ):
        account_id, _ = connected
        sf_org.admin.add_fault(**OUTAGE, count=-1, path="/describe")
        result = sfsync("attribute", "add", account_id, "age_c", "Age__c", **env)
        assert result.returncode == 1
        assert result.stdout == ""  # logs never mix with a command's output
        lines = log_lines(result.stderr)
        assert [(level, event, logger) for level, event, logger, _ in lines] == [
            ("warning", "retry.scheduled", "stamina")
        ] * 4  # five attempts: four retries
        assert "retry_num=1" in lines[0][3]
        assert (
            "Salesforce could not answer GET sobjects/Contact/describe (HTTP 503)" in (lines[0][3])
        )
        others = [line for line in result.stderr.splitlines() if not LOG_LINE.match(line)]
        assert len(others) == 1 and others[0].startswith("error (describe_failed)")
        assert "Ada" not in result.stderr and "Lovelace" not in result.stderr
        assert "\x1b[" not in result.stderr  # no colour codes in a file or a pipe

    def test_sfsync_log_level_and_format_are_honoured(self, env, sf_org, connected):
        account_id, _ = connected
        sf_org.admin.add_fault(**OUTAGE, count=1, path="/describe")
        verbose = env | {"SFSYNC_LOG_LEVEL": "info", "SFSYNC_LOG_FORMAT": "json"}
        result = sfsync("attribute", "add", account_id, "age_c", "Age__c", **verbose)
        assert result.returncode == 0, result.stderr
        events = [json.loads(line) for line in result.stderr.splitlines()]
        assert [(e["level"], e["event"]) for e in events] == [
            ("warning", "retry.scheduled"),
            ("info", "salesforce.retry"),
        ]
        assert events[1] == events[1] | {"attempt": 2, "method": "GET"}
        assert "Lovelace" not in result.stderr


@pytest.fixture(name="pipeline")
def _pipeline() -> Iterator[None]:
    """Puts back what configure_logging changes for the whole process."""
    with logging_restored():
        yield


@pytest.mark.usefixtures("pipeline")
def test_the_worker_configuring_its_own_replaces_the_cli_logging(capsys):
    """`sfsync worker` configures logging again from its settings: its level and format
    apply, and no line is written twice."""
    configure_cli_logging({})  # the CLI's: console, warning, stderr
    worker = io.StringIO()
    configure_logging("json", "info", worker)  # what `worker` does with its settings
    structlog.get_logger("sfsync.test").info("run.started", run_id="run_1")
    logging.getLogger("dramatiq.test").info("worker up")
    assert [json.loads(line)["event"] for line in worker.getvalue().splitlines()] == [
        "run.started",
        "worker up",
    ]
    assert capsys.readouterr().err == ""
