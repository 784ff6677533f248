import json
import logging

import pytest
import structlog

from sfsync.entrypoints.logs import configure_logging, redact
from tests.logging_reset import logging_restored


def test_secret_keys_are_replaced():
    event = redact(
        None, "info", {"event": "x", "access_token": "00Dabc!secret", "client_secret": "s"}
    )
    assert event["access_token"] == "[redacted]"
    assert event["client_secret"] == "[redacted]"


def test_emails_are_masked_anywhere_in_values():
    event = redact(
        None, "info", {"event": "skipped o'brien@example.com", "ctx": {"to": ["zoë@müller.de"]}}
    )
    assert "example.com" not in json.dumps(event)
    assert "müller" not in json.dumps(event, ensure_ascii=False)


def test_bearer_tokens_in_messages_are_masked():
    event = redact(None, "info", {"event": "GET failed with Authorization: Bearer 00Dxx!AQ.tok"})
    assert "00Dxx" not in event["event"]


@pytest.fixture
def json_logs(capsys):
    with logging_restored():
        yield capsys


def test_stdlib_and_structlog_lines_are_json_and_redacted(json_logs):
    configure_logging("json", "info")
    structlog.get_logger("t").info("sync.started", refresh_token="r-123", note="ada@example.com")
    logging.getLogger("dramatiq").warning("failed for bob@example.org")
    err = json_logs.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert len(lines) == 2, err
    assert lines[0]["event"] == "sync.started"
    assert lines[0]["refresh_token"] == "[redacted]"
    assert "example" not in json.dumps(lines)
