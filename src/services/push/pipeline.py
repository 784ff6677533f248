"""Commits in the background, one at a time and in order, while the push reads and plans
its next page or reads Salesforce's next answers: Postgres and Python work at once."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType


class Committer:
    """At most one commit running; the next waits for it, and so does leaving the block
    (no commit outlives the run). A commit's error comes out of the next `submit`, of
    `drain`, or of leaving the block."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sfsync-commit")
        self._pending: Future[None] | None = None

    def submit(self, commit: Callable[[], None]) -> None:
        self.drain()
        # The caller's context (its log fields) goes with the commit.
        self._pending = self._thread.submit(contextvars.copy_context().run, commit)

    def drain(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> Committer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if kind is None:
                self.drain()
            elif self._pending is not None:
                self._pending.exception()  # waited for; the error already raised wins
        finally:
            self._thread.shutdown(wait=True)
