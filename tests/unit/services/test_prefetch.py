import threading
import time

import pytest

from sfsync.services.prefetch import prefetched


def test_yields_everything_in_order():
    assert list(prefetched(iter(range(50)), depth=2)) == list(range(50))


def test_the_producers_error_is_raised_to_the_consumer_after_the_items_before_it():
    def pages():
        yield 1
        yield 2
        raise TimeoutError("salesforce went away")

    got = []
    with pytest.raises(TimeoutError, match="went away"):
        for page in prefetched(pages()):
            got.append(page)
    assert got == [1, 2]


def test_reads_ahead_while_the_consumer_works_but_no_more_than_depth():
    produced = []

    def pages():
        for n in range(10):
            produced.append(n)
            yield n

    stream = prefetched(pages(), depth=2)
    assert next(stream) == 0
    time.sleep(0.2)
    assert 2 <= len(produced) <= 4  # one taken, two waiting, one blocked in hand
    stream.close()


def test_stopping_early_stops_the_producer():
    def endless():
        n = 0
        while True:
            yield n
            n += 1

    before = threading.active_count()
    stream = prefetched(endless(), depth=1)
    next(stream)
    stream.close()
    time.sleep(0.3)
    assert threading.active_count() == before


def test_rebatched_joins_small_pages_and_keeps_order():
    from sfsync.services.prefetch import rebatched

    pages = iter([[1, 2], [3], [4, 5, 6], [7]])
    assert list(rebatched(pages, 3)) == [[1, 2, 3], [4, 5, 6], [7]]


def test_an_interrupt_reaches_a_consumer_waiting_for_a_slow_producer():
    """dramatiq's time limit raises in the actor's thread, which waits here while the read
    ahead thread is stuck in a slow call: it must not wait for that call to end."""
    import sys

    from dramatiq.middleware import TimeLimitExceeded
    from dramatiq.threading import raise_thread_exception

    release, raised = threading.Event(), []

    def pages():
        yield 1
        release.wait(30)  # a long network call
        yield 2

    def consume():
        try:
            for _ in prefetched(pages()):
                pass
        except TimeLimitExceeded:
            raised.append(True)

    def waiting_for_a_page() -> bool:
        frame = sys._current_frames().get(consumer.ident)
        while frame is not None:
            if frame.f_code.co_name == "get" and "queue" in frame.f_code.co_filename:
                return True
            frame = frame.f_back
        return False

    consumer = threading.Thread(target=consume)
    consumer.start()
    deadline = time.monotonic() + 10
    while not waiting_for_a_page() and time.monotonic() < deadline:
        time.sleep(0.01)
    raise_thread_exception(consumer.ident, TimeLimitExceeded)
    while waiting_for_a_page() and time.monotonic() < deadline:
        time.sleep(0.01)
    stuck = waiting_for_a_page()
    release.set()
    consumer.join(30)
    assert not stuck and raised == [True]


def test_a_shutdown_stops_the_wait_for_a_slow_producer_without_waiting_for_it():
    """SIGTERM while a page is long in coming (a Bulk job, a slow org): Interrupted comes
    out within about half a second, not when the slow call ends."""
    import pytest

    from sfsync.domain.errors import Interrupted

    release, stopping = threading.Event(), threading.Event()

    def pages():
        yield 1
        release.wait(30)  # a long network call
        yield 2

    stream = prefetched(pages(), depth=1, stopping=stopping.is_set)
    assert next(stream) == 1
    stopping.set()
    began = time.monotonic()
    with pytest.raises(Interrupted):
        next(stream)
    assert time.monotonic() - began < 2
    release.set()
