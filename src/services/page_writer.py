"""Write a page in the background while the next one is planned.

Postgres works on page N while the worker plans page N+1; at most one page is in flight.
Page N+1 is planned against the database plus page N's changes (the overlay), so a Contact
or an email that appears in both pages still lands on one candidate.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from sfsync.domain.model import Candidate, Contact, SyncCursor
from sfsync.services.import_plan import BatchPlan, ImportContext, lookup_keys, plan_batch
from sfsync.services.import_steps import ImportDeps, furthest, write_plan
from sfsync.services.reports import RunReport


class PageWriter:
    def __init__(self, ctx: ImportContext, deps: ImportDeps, report: RunReport) -> None:
        self.ctx, self.deps, self.report = ctx, deps, report
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="sfsync-writer")
        self._pending: Future[None] | None = None
        self._in_flight: BatchPlan | None = None

    def __enter__(self) -> PageWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self.wait()
            elif self._pending is not None:
                self._pending.exception()  # let the write finish; the run's error wins
        finally:
            self._pool.shutdown(wait=True)

    def apply(self, batch: Sequence[Contact]) -> None:
        """Plan `batch` now and write it in the background; the cursor moves with it."""
        plan = plan_batch(batch, self._existing(batch), self.ctx, self.deps.new_id)
        self.wait()  # one page in flight: the previous one is committed before this starts
        self.report.add(plan)
        cursor = furthest(batch)
        move = cursor is not None and self.report.advance(cursor)
        progress = (self.report.processed, self.report.expected)
        self._in_flight = plan
        self._pending = self._pool.submit(self._write, plan, cursor if move else None, progress)

    def wait(self) -> None:
        """Block until the page in flight is committed; raise its error, if any."""
        pending, self._pending = self._pending, None
        if pending is not None:
            try:
                pending.result()
            finally:
                self._in_flight = None

    def _existing(self, batch: Sequence[Contact]) -> list[Candidate]:
        account_id = self.ctx.settings.account_id
        ids, emails = lookup_keys(batch)
        overlay = self._in_flight  # read before the query: what it may not show yet
        with self.deps.uow() as uow:
            found = {c.id: c for c in uow.candidates.find_for_contacts(account_id, ids, emails)}
        if overlay is not None:
            keys = set(ids).union(emails)  # only what this page can touch: fewer to index
            for candidate_id, candidate in overlay.upserts.items():
                if (
                    candidate_id in found
                    or candidate.email_key in keys
                    or candidate.salesforce_id in keys
                ):
                    found[candidate_id] = candidate
            for candidate_id in overlay.deletes:
                found.pop(candidate_id, None)
        return list(found.values())

    def _write(
        self, plan: BatchPlan, cursor: SyncCursor | None, progress: tuple[int, int | None]
    ) -> None:
        with self.deps.uow() as uow:
            write_plan(
                uow, self.ctx.settings.account_id, plan, self.report.run_id, progress, cursor
            )
