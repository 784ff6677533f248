"""The push's background commits: in order, one at a time, none outliving the run."""

from __future__ import annotations

import threading
import time

import pytest
import structlog

from sfsync.services.push.pipeline import Committer


def test_commits_run_in_order_one_at_a_time():
    done: list[int] = []
    running = threading.Semaphore(1)

    def commit(n: int):
        def run():
            assert running.acquire(blocking=False), "two commits at once"
            time.sleep(0.01)
            done.append(n)
            running.release()

        return run

    with Committer() as committer:
        for n in range(5):
            committer.submit(commit(n))
    assert done == [0, 1, 2, 3, 4]


def test_the_caller_goes_on_while_a_commit_runs():
    started, release = threading.Event(), threading.Event()

    def slow():
        started.set()
        assert release.wait(5)

    with Committer() as committer:
        committer.submit(slow)
        assert started.wait(5)  # submit returned while the commit still runs
        release.set()


def test_a_commit_error_comes_out_of_the_next_submit():
    def fails():
        raise RuntimeError("refused")

    with Committer() as committer:
        committer.submit(fails)
        with pytest.raises(RuntimeError, match="refused"):
            committer.submit(lambda: None)


def test_a_commit_error_comes_out_when_the_block_ends():
    def fails():
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError, match="refused"), Committer() as committer:
        committer.submit(fails)


def test_leaving_on_an_error_waits_for_the_pending_commit_and_keeps_that_error():
    done: list[str] = []

    def slow():
        time.sleep(0.05)
        done.append("committed")
        raise RuntimeError("the commit's own error")

    with pytest.raises(KeyError), Committer() as committer:
        committer.submit(slow)
        raise KeyError("the run's error")
    assert done == ["committed"]


def test_the_callers_context_goes_with_the_commit():
    seen: list[dict[str, object]] = []
    structlog.contextvars.bind_contextvars(run_id="run_1")
    try:
        with Committer() as committer:
            committer.submit(lambda: seen.append(structlog.contextvars.get_contextvars()))
    finally:
        structlog.contextvars.unbind_contextvars("run_id")
    assert [context.get("run_id") for context in seen] == ["run_1"]
