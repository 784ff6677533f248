"""A run's report as it grows: counts, progress, errors, and the sync.completed event."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime
from typing import Any

import attrs

from sfsync.domain.errors import DomainError
from sfsync.domain.messages import CONTRACT_VERSION, RunStatus, SyncRequested
from sfsync.domain.model import AccountId, SyncCursor
from sfsync.domain.ports import RunRecord, SourceCalls
from sfsync.services.import_plan import BatchPlan, RecordError

COUNT_KEYS = (
    "seen",
    "created",
    "updated",
    "unchanged",
    "deleted",
    "unsubscribed",
    "linked",
    "pushed",
    "push_failed",
    "push_conflicts",
    "reconcile_gone",
    "reconcile_missed",
)
MAX_KEPT_ERRORS = 500  # the rest are counted, not kept


@attrs.define
class RunReport:
    run_id: str
    account_id: AccountId
    request_id: str
    scope: str
    started_at: datetime
    counts: Counter[str] = attrs.Factory(Counter)
    skipped: Counter[str] = attrs.Factory(Counter)
    errors: list[dict[str, Any]] = attrs.Factory(list)
    error_count: int = 0
    expected: int | None = None
    fields_read: tuple[str, ...] = ()
    mode: str = ""
    status: RunStatus = RunStatus.RUNNING
    cursor: SyncCursor | None = None  # the account's watermark as this run moves it
    position: SyncCursor | None = None  # how far this run's committed pages reached
    deletes_covered: datetime | None = None
    source: dict[str, Any] = attrs.Factory(dict)  # RunRecord.source

    @classmethod
    def begin(cls, earlier: RunRecord | None, request: SyncRequested, now: datetime) -> RunReport:
        """A new report, or the unfinished run of the same request resumed as its committed
        pages left it."""
        scope = "candidate" if request.candidate_id else request.scope.value
        if earlier is None:
            return cls(str(uuid.uuid4()), request.account_id, request.id, scope, now)
        report = cls(earlier.id, request.account_id, request.id, scope, earlier.started_at or now)
        report.restore(earlier)
        return report

    def restore(self, saved: RunRecord) -> None:
        """Go back to what `saved` (a checkpoint) holds: what a failed write added is gone."""
        counts = dict(saved.counts)
        self.skipped = Counter(counts.pop("skipped", {}))
        self.counts = Counter({k: v for k, v in counts.items() if k in COUNT_KEYS})
        self.errors = [dict(e) for e in saved.errors]
        self.error_count = int(counts.get("errors", len(saved.errors)))
        self.expected, self.fields_read = saved.expected, saved.fields_read
        self.mode, self.position = saved.mode, saved.position
        self.source = dict(saved.source)

    def reopen(self) -> None:
        """Carry on a run that ended failed or quota: why it ended no longer holds (the
        errors of its records stay, with its counts), and it is running again."""
        kept = [e for e in self.errors if e.get("salesforce_id")]
        self.error_count -= len(self.errors) - len(kept)
        self.errors, self.status = kept, RunStatus.RUNNING

    @property
    def processed(self) -> int:
        return self.counts["seen"]

    def add(self, plan: BatchPlan, *, count_seen: bool = True, count_skipped: bool = True) -> None:
        if not count_seen:
            plan.counts["seen"] = 0
        self.counts.update(plan.counts)
        if count_skipped:
            self.skipped.update(plan.skipped)
        for error in plan.errors:
            self.error(error)

    def error(self, error: RecordError, *, once: bool = False) -> None:
        """Count and keep `error`; a run-level one (and with `once`, any) only the first
        time: a resumed attempt meets it again."""
        entry = attrs.asdict(error)
        if (once or error.salesforce_id is None) and entry in self.errors:
            return
        self.error_count += 1
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(entry)

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1

    def advance(self, cursor: SyncCursor) -> bool:
        """Move the watermark forward only; False when `cursor` is not past it."""
        if self.cursor is not None and _key(cursor) <= _key(self.cursor):
            return False
        self.cursor = cursor
        return True

    def reach(self, cursor: SyncCursor) -> None:
        """The run's committed pages reach `cursor` (in the order it reads)."""
        if self.position is None or _key(cursor) > _key(self.position):
            self.position = cursor

    def note_calls(self, via: str, calls: SourceCalls) -> None:
        """Add an attempt's calls, rate-limit waits and rows skipped by the source to the
        run's (over all attempts)."""
        self.source["via"] = via
        self.source["calls"] = self.source.get("calls", 0) + calls.calls
        waited = self.source.get("rate_limit_wait_seconds", 0.0) + calls.waited_seconds
        self.source["rate_limit_wait_seconds"] = round(waited, 3)
        for reason, count in calls.rows_skipped.items():  # the source's: not in any page
            self.skipped[f"source_{reason}"] += count

    def fail(self, code: str, message: str) -> None:
        self.error(RecordError(code, message))
        self.status = RunStatus.FAILED

    def stop(self, status: RunStatus, err: DomainError) -> None:
        self.error(RecordError(err.code, err.message))
        self.status = status

    def record(self, finished_at: datetime | None = None) -> RunRecord:
        counts: dict[str, Any] = {key: self.counts[key] for key in COUNT_KEYS}
        counts["skipped"] = dict(self.skipped)
        counts["errors"] = self.error_count
        return RunRecord(
            id=self.run_id,
            account_id=self.account_id,
            request_id=self.request_id,
            scope=self.scope,
            status=self.status.value,
            started_at=self.started_at,
            finished_at=finished_at,
            processed=self.processed,
            expected=self.expected,
            counts=counts,
            errors=tuple(self.errors),
            fields_read=self.fields_read,
            mode=self.mode,
            position=self.position,
            source=dict(self.source),
        )

    def finish(self, now: datetime) -> RunRecord:
        if self.status is RunStatus.RUNNING:
            self.status = RunStatus.PARTIAL if self.error_count else RunStatus.SUCCEEDED
        return self.record(finished_at=now)


def _key(cursor: SyncCursor) -> tuple[datetime, str]:
    return cursor.modstamp, cursor.contact_id


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def completed_event(run: RunRecord) -> dict[str, Any]:
    """The sync.completed message (contract version 1) for a finished run."""
    counts = {key: run.counts.get(key, 0) for key in COUNT_KEYS}
    counts["skipped"] = dict(run.counts.get("skipped", {}))
    return {
        "type": "sync.completed",
        "version": CONTRACT_VERSION,
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sfsync:run:{run.id}:completed")),
        "run_id": run.id,
        "request_id": run.request_id,
        "account_id": run.account_id,
        "scope": run.scope,
        "status": run.status,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "counts": counts,
        "errors": [
            {
                "code": e.get("code"),
                "message": e.get("message"),
                "salesforce_id": e.get("salesforce_id"),
            }
            for e in run.errors
        ],
        "source": dict(run.source),
    }
