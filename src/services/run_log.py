"""What an import run tells the operator's log (the RunLog port) and the metrics (the Metrics
port): its ids, mode and counts."""

from __future__ import annotations

from collections import Counter

from sfsync.domain.messages import SyncRequested
from sfsync.domain.model import AccountId
from sfsync.domain.ports import Metrics, RunIds, RunLog, RunRecord
from sfsync.services.reports import RunReport

# The outcomes counted as records (besides skipped, counted by reason).
RECORD_OUTCOMES = ("created", "updated", "unchanged", "deleted", "pushed", "push_failed")


def run_ids(report: RunReport) -> RunIds:
    return RunIds(AccountId(report.account_id), report.request_id, report.run_id)


def request_ids(request: SyncRequested, run: RunRecord | None) -> RunIds:
    """A request's ids, with its run's when it has one."""
    return RunIds(AccountId(request.account_id), request.id, run.id if run else None)


def tally(run: RunRecord) -> Counter[str]:
    """A run's counts, flat (skipped summed over its reasons), zeros left out."""
    counts = Counter({k: v for k, v in run.counts.items() if isinstance(v, int)})
    counts["skipped"] = sum(run.counts.get("skipped", {}).values())
    return +counts


def log_page(
    log: RunLog, metrics: Metrics, report: RunReport, before: RunRecord, after: RunRecord
) -> None:
    """A page is committed: `before` and `after` are the run as the pages left it."""
    count_records(metrics, before, after)
    totals = tally(after)
    log.page(
        run_ids(report),
        mode=after.mode,
        counts=dict(totals - tally(before)),
        totals=dict(totals),
        expected=after.expected,
    )


def count_records(metrics: Metrics, before: RunRecord, after: RunRecord) -> None:
    """What a page added to the run's counts, by outcome and skip reason."""
    for outcome in RECORD_OUTCOMES:
        added = after.counts.get(outcome, 0) - before.counts.get(outcome, 0)
        if added > 0:
            metrics.records(outcome, added)
    skipped_before = before.counts.get("skipped", {})
    for reason, count in after.counts.get("skipped", {}).items():
        added = count - skipped_before.get(reason, 0)
        if added > 0:
            metrics.records("skipped", added, reason=reason)


def log_finished(
    log: RunLog, metrics: Metrics, report: RunReport, run: RunRecord, error: str | None
) -> None:
    started, finished = run.started_at, run.finished_at
    seconds = (finished - started).total_seconds() if started and finished else 0.0
    metrics.run_finished(scope=run.scope, status=run.status, seconds=seconds)
    log.finished(
        run_ids(report),
        status=run.status,
        mode=run.mode or None,
        totals=dict(tally(run)),
        seconds=seconds,
        error=error,
    )
