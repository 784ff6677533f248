"""The worker's HTTP port: /metrics after a real import (parsed with Prometheus' own text
parser), /healthz and /readyz."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.e2e.conftest import Samples, key, poll, samples, scrape

pytestmark = pytest.mark.integration


def scraped(port: int) -> Samples:
    """The worker's /metrics, parsed."""
    response = scrape(port)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


def test_an_import_counts_its_run_records_calls_and_message(harness):
    port = harness.container.settings.metrics_port
    for i in range(25):
        harness.emu.admin.create_contact(Email=f"m{i}@example.com", LastName=f"M{i}")
    harness.emu.admin.create_contact(LastName="No Email")
    before = scraped(port)

    event = harness.sync()
    assert event["status"] == "succeeded" and event["counts"]["created"] == 25

    after = scraped(port)
    added = Counter({k: after[k] - before[k] for k in after})
    assert added[key("sfsync_runs_total", scope="import", status="succeeded")] == 1
    assert added[key("sfsync_run_duration_seconds_count", scope="import")] == 1
    assert added[key("sfsync_records_total", outcome="created", reason="")] == 25
    assert added[key("sfsync_records_total", outcome="skipped", reason="no_email")] == 1
    assert added[key("sfsync_messages_total", type="sync.requested", outcome="processed")] == 1
    assert added[key("sfsync_messages_total", type="sync.requested", outcome="failed")] == 0
    calls = {
        dict(labels)["kind"]: n
        for (name, labels), n in added.items()
        if n and name == "sfsync_salesforce_calls_total"
    }
    # a full import: the describe, then one page of queryAll (deleted Contacts included)
    assert calls == {"GET sobjects/Contact/describe": 1, "GET queryAll": 1}
    remaining = after[key("sfsync_salesforce_api_remaining", account_id=harness.account)]
    assert remaining > 0


def test_a_request_for_an_unknown_account_is_counted_as_failed_and_dead_lettered(harness):
    port = harness.container.settings.metrics_port
    before = scraped(port)
    message = harness.request(account_id="acc_nobody_knows")
    dead = key("sfsync_messages_total", type="sync.requested", outcome="dead_lettered")

    def counted() -> Samples:
        now = scraped(port)
        return now if now[dead] > before[dead] else Counter()

    after = poll(counted, 30, f"dead letter of {message['id']} counted")
    failed = key("sfsync_messages_total", type="sync.requested", outcome="failed")
    assert after[failed] - before[failed] == 1
    retried = key("sfsync_messages_total", type="sync.requested", outcome="retried")
    assert after[retried] == before[retried]  # a permanent failure: not retried


def test_healthz_and_readyz_answer_json(harness):
    port = harness.container.settings.metrics_port
    alive = scrape(port, "/healthz")
    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
    ready = scrape(port, "/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
    checks = ready.json()["checks"]
    assert checks[0].startswith("postgres: ok (schema version ") and "rabbitmq: ok" in checks
    assert scrape(port, "/nothing").status_code == 404
