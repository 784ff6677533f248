"""The Metrics port as Prometheus counters on a registry of this process's own.

Labels hold codes, kinds and account ids only. Each is checked here as well: a value that
is not a plain code (or a plain id, for accounts) is counted as `other` (or not recorded),
so a mistake upstream cannot put an email or a message into a label or grow the series
without bound.
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from sfsync.domain.model import AccountId

OTHER = "other"
_CODE = re.compile(r"[a-z][a-z0-9_.]{0,63}")
_KIND = re.compile(r"[A-Z]{3,7} [A-Za-z0-9_/{}-]{1,80}")  # "-": the vendor's paths
_ACCOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
RUN_SECONDS = (1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400)


def code(value: str) -> str:
    """`value` when it is a plain lower-case code, else `other`."""
    return value if _CODE.fullmatch(value) else OTHER


class PrometheusMetrics:
    content_type = CONTENT_TYPE_LATEST  # of exposition()

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self._messages = Counter(
            "sfsync_messages",
            "Messages by type (actor) and outcome: processed, failed, retried, dead_lettered",
            ["type", "outcome"],
            registry=registry,
        )
        self._runs = Counter(
            "sfsync_runs", "Runs ended, by scope and status", ["scope", "status"], registry=registry
        )
        self._run_seconds = Histogram(
            "sfsync_run_duration_seconds",
            "Runs' duration from start to end, over all their attempts",
            ["scope"],
            buckets=RUN_SECONDS,
            registry=registry,
        )
        self._records = Counter(
            "sfsync_records",
            "Records counted by committed pages, by outcome (skipped: by reason)",
            ["outcome", "reason"],
            registry=registry,
        )
        self._calls = Counter(
            "sfsync_salesforce_calls",
            "Calls to Salesforce by kind (method and path template)",
            ["kind"],
            registry=registry,
        )
        self._remaining = Gauge(
            "sfsync_salesforce_api_remaining",
            "API requests the account's org has left (Sforce-Limit-Info of the last call)",
            ["account_id"],
            registry=registry,
        )
        self._slots = Counter(
            "sfsync_scheduler_slots",
            "Scheduler slots by outcome: published, or missed (past the grace period)",
            ["outcome"],
            registry=registry,
        )

    def message(self, message_type: str, outcome: str) -> None:
        self._messages.labels(code(message_type), code(outcome)).inc()

    def run_finished(self, *, scope: str, status: str, seconds: float) -> None:
        self._runs.labels(code(scope), code(status)).inc()
        self._run_seconds.labels(code(scope)).observe(max(seconds, 0.0))

    def records(self, outcome: str, count: int, *, reason: str = "") -> None:
        if count > 0:
            self._records.labels(code(outcome), code(reason) if reason else "").inc(count)

    def salesforce_call(self, kind: str) -> None:
        self._calls.labels(kind if _KIND.fullmatch(kind) else OTHER).inc()

    def api_remaining(self, account_id: AccountId, remaining: int) -> None:
        if _ACCOUNT.fullmatch(account_id):  # our own ids; anything else is not recorded
            self._remaining.labels(account_id).set(remaining)

    def slots(self, *, published: int, missed: int) -> None:
        for outcome, count in (("published", published), ("missed", missed)):
            self._slots.labels(outcome).inc(count)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)
