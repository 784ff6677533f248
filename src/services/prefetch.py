"""Read the next page while the current one is planned and written.

Salesforce reads wait on the network and page writes wait on Postgres; overlapping them
roughly halves an import. At most `depth` pages wait in memory, so memory stays flat.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from sfsync.domain.errors import Interrupted

T = TypeVar("T")
_ITEM, _DONE, _ERROR = "item", "done", "error"


def _never() -> bool:
    return False


def prefetched(
    items: Iterator[T], depth: int = 2, stopping: Callable[[], bool] = _never
) -> Iterator[T]:
    """Yield `items` as a background thread produces them; its errors are raised here.

    While it waits for the next item, `stopping()` is asked every half second: once true,
    Interrupted is raised without waiting for the item (a Bulk job or a slow Salesforce
    call may take minutes), and the producer is left to end on its own."""
    pending: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(entry: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                pending.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer((_ITEM, item)):
                    return
            offer((_DONE, None))
        except BaseException as err:  # handed to the consumer, which decides
            offer((_ERROR, err))

    context = contextvars.copy_context()  # the reader's log lines carry the run's ids
    producer = threading.Thread(
        target=context.run, args=(produce,), name="sfsync-prefetch", daemon=True
    )
    producer.start()
    wait_for_producer = 60.0
    try:
        while True:
            try:  # in short waits: an interrupt (the time limit) lands within half a second
                kind, value = pending.get(timeout=0.5)
            except queue.Empty:
                if stopping():
                    wait_for_producer = 0.0  # it may be blocked on that slow call
                    raise Interrupted() from None
                continue
            if kind == _DONE:
                return
            if kind == _ERROR:
                raise value
            yield value
    finally:
        stop.set()
        producer.join(timeout=wait_for_producer)


def rebatched(batches: Iterator[Sequence[T]], size: int) -> Iterator[list[T]]:
    """Join small pages (REST gives at most 2,000 rows) into pages of at least `size`:
    each page written costs a few round trips whatever its size."""
    pending: list[T] = []
    for batch in batches:
        pending.extend(batch)
        if len(pending) >= size:
            yield pending
            pending = []
    if pending:
        yield pending
