"""Metrics contract: the recording fake and the Prometheus adapter count the same calls the
same way; the adapter's labels stay plain codes, kinds and account ids whatever they are
given (read back through Prometheus' own text parser)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from sfsync.adapters.prometheus_metrics import PrometheusMetrics
from sfsync.domain.model import AccountId
from sfsync.domain.ports import Metrics
from tests.fakes import RecordingMetrics

Counts = Counter[tuple[str, ...]]
NAMES = {
    "sfsync_messages_total": ("messages", "type", "outcome"),
    "sfsync_runs_total": ("runs", "scope", "status"),
    "sfsync_records_total": ("records", "outcome", "reason"),
    "sfsync_salesforce_calls_total": ("salesforce_calls", "kind"),
    "sfsync_scheduler_slots_total": ("slots", "outcome"),
}


def read_prometheus(metrics: PrometheusMetrics) -> tuple[Counts, dict[str, int]]:
    """The exposition as the fake's counts (zeros left out) and remaining quotas."""
    counts: Counts = Counter()
    remaining = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            if sample.name in NAMES and sample.value:
                name, *labels = NAMES[sample.name]
                counts[(name, *(sample.labels[label] for label in labels))] = int(sample.value)
            elif sample.name == "sfsync_salesforce_api_remaining":
                remaining[sample.labels["account_id"]] = int(sample.value)
    return counts, remaining


def read_fake(metrics: RecordingMetrics) -> tuple[Counts, dict[str, int]]:
    return +metrics.counts, metrics.remaining


@pytest.fixture(params=["fake", "prometheus"])
def metrics(request) -> tuple[Metrics, Callable[[], tuple[Counts, dict[str, int]]]]:
    if request.param == "fake":
        fake = RecordingMetrics()
        return fake, lambda: read_fake(fake)
    real = PrometheusMetrics()
    return real, lambda: read_prometheus(real)


def test_each_call_is_counted_under_its_labels(metrics):
    port, read_back = metrics
    port.message("sync.requested", "processed")
    port.message("sync.requested", "processed")
    port.message("sync.requested", "retried")
    port.run_finished(scope="import", status="succeeded", seconds=3.5)
    port.records("created", 2000)
    port.records("created", 5)
    port.records("skipped", 3, reason="no_email")
    port.records("updated", 0)
    port.salesforce_call("GET query")
    port.api_remaining(AccountId("acc_1"), 14_000)
    port.api_remaining(AccountId("acc_1"), 13_990)
    port.slots(published=4, missed=1)
    port.slots(published=0, missed=0)
    assert read_back() == (
        {
            ("messages", "sync.requested", "processed"): 2,
            ("messages", "sync.requested", "retried"): 1,
            ("runs", "import", "succeeded"): 1,
            ("records", "created", ""): 2005,
            ("records", "skipped", "no_email"): 3,
            ("salesforce_calls", "GET query"): 1,
            ("slots", "published"): 4,
            ("slots", "missed"): 1,
        },
        {"acc_1": 13_990},
    )


def test_the_run_duration_is_a_histogram_by_scope():
    metrics = PrometheusMetrics()
    for seconds in (0.5, 40, 4000):
        metrics.run_finished(scope="full", status="succeeded", seconds=seconds)
    (family,) = [
        f
        for f in text_string_to_metric_families(metrics.exposition().decode())
        if f.name == "sfsync_run_duration_seconds"
    ]
    assert family.type == "histogram"
    by_name = {(s.name, s.labels.get("le")): s.value for s in family.samples}
    assert by_name["sfsync_run_duration_seconds_count", None] == 3
    assert by_name["sfsync_run_duration_seconds_sum", None] == 4040.5
    assert by_name["sfsync_run_duration_seconds_bucket", "60.0"] == 2


PERSONAL = [
    "ada.lovelace@example.com",
    "Ada Lovelace",
    "003000000000001AAA",
    "INVALID_FIELD: bad value 'Ada'",
    "https://eu1.my.salesforce.com/services/data/v62.0/query?q=SELECT",
]


@pytest.mark.parametrize("value", PERSONAL)
def test_a_value_that_is_no_plain_code_never_becomes_a_label(value):
    metrics = PrometheusMetrics()
    metrics.message(value, "processed")
    metrics.run_finished(scope=value, status=value, seconds=1)
    metrics.records(value, 1, reason=value)
    metrics.salesforce_call(value)
    text = metrics.exposition().decode()
    assert value not in text and value.lower() not in text.lower()
    counts, _ = read_prometheus(metrics)
    assert counts[("messages", "other", "processed")] == 1
    assert counts[("salesforce_calls", "other")] == 1


@pytest.mark.parametrize("value", [v for v in PERSONAL if not v.startswith("003")])
def test_an_account_id_that_is_no_plain_id_is_not_recorded(value):
    metrics = PrometheusMetrics()
    metrics.api_remaining(AccountId(value), 10)
    assert read_prometheus(metrics) == ({}, {})


@given(st.text(max_size=80))
def test_any_label_value_is_a_bounded_code(value):
    metrics = PrometheusMetrics()
    metrics.records("skipped", 1, reason=value)
    metrics.salesforce_call(value)
    counts, _ = read_prometheus(metrics)
    for labels in counts:
        assert all(len(label) <= 80 and "@" not in label for label in labels)
