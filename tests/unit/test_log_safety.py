"""What reaches a log line is decided by structure: every path a value could take, tried.

Dramatiq's own lines (through a real worker), foreign records' arguments, exception text in
tracebacks, crashed threads, uncaught exceptions, `__del__` errors and stamina's retries.
Then 10 MB strings through all of them, and through the codec: a hang detector guards each
(the work takes well under a second; the old scrubber took minutes).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
import stamina
import stamina.instrumentation
import structlog
from dramatiq.brokers.stub import StubBroker
from dramatiq.encoder import JSONEncoder
from structlog.stdlib import ProcessorFormatter

from sfsync.domain.errors import DomainError, InvalidMessage, TransientFailure
from sfsync.entrypoints import logs
from sfsync.entrypoints.codec import decode
from sfsync.entrypoints.logs import configure_logging
from tests.logging_reset import logging_restored

EMAIL = "ada.lovelace@example.com"
NAME = "Augusta Lovelace"
PHONE = "+44 20 7946 0958"
PERSONAL = (EMAIL, NAME, PHONE, "Lovelace")
BODY = {"type": "sync.requested", "email": EMAIL, "name": NAME, "phone": PHONE}


class Captured:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    def lines(self, personal: bool = False) -> list[dict[str, Any]]:
        """The JSON lines logged so far; none may hold personal data unless `personal`."""
        err = self.stream.getvalue()
        if not personal:
            assert not any(p.lower() in err.lower() for p in PERSONAL), err[:3000]
        return [json.loads(line) for line in err.splitlines()]


@pytest.fixture
def captured() -> Iterator[Captured]:
    captured = Captured()
    with logging_restored():
        configure_logging("json", "debug", captured.stream)
        yield captured


def _event(lines: list[dict[str, Any]], text: str) -> dict[str, Any]:
    found = [line for line in lines if text in line["event"]]
    assert found, [line["event"] for line in lines]
    return found[0]


# --- structure ----------------------------------------------------------------------------


def test_dramatiq_worker_lines_name_the_message_not_its_body(captured) -> None:
    encoder = dramatiq.get_encoder()
    dramatiq.set_encoder(JSONEncoder())
    broker = StubBroker()
    broker.emit_after("process_boot")

    def refuse(body: dict[str, Any]) -> None:
        raise KeyError(body["email"])

    actor = dramatiq.actor(refuse, broker=broker, actor_name="sync.requested", max_retries=0)
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        message = actor.send(BODY)
        broker.join(actor.queue_name, fail_fast=False)
        worker.join()
    finally:
        worker.stop()
        broker.close()
        dramatiq.set_encoder(encoder)
    lines = captured.lines()
    failed = _event(lines, "Failed to process message")
    assert f"sync.requested {message.message_id}" in failed["event"]
    assert "in refuse" in failed["exception"] and "KeyError" in failed["exception"]
    received = _event(lines, "Received args=")["event"]
    assert received == "Received args='<tuple of 1>' kwargs='<dict of 0>'."


def test_foreign_arguments_are_shown_by_kind(captured) -> None:
    message = dramatiq.Message("q", "sync.requested", (), {"body": BODY}, {}, message_id="m-1")
    log = logging.getLogger("dramatiq.test")
    log.warning("message %s dict %s list %s bytes %r", message, BODY, [EMAIL], EMAIL.encode())
    log.warning("object %r exception %s", object(), ValueError(EMAIL))
    log.warning("%(who)s wrote %(what)s", {"who": "worker", "what": BODY})
    log.warning("a lone dict %s", BODY)
    log.warning("a number %d", NAME)  # a wrong placeholder: no logging error, no value
    log.error(ValueError(EMAIL))  # an exception as the message itself
    log.error("io %s", FileNotFoundError(2, "No such file or directory", f"/tmp/{EMAIL}"))
    events = [line["event"] for line in captured.lines()]
    assert events == [
        "message sync.requested m-1 dict <dict of 4> list <list of 1> bytes '<24 bytes>'",
        "object '<object>' exception ValueError",
        "worker wrote <dict of 4>",
        "a lone dict <dict of 4>",
        "a number %d (arguments not shown)",
        "ValueError",
        "io FileNotFoundError: [Errno 2] No such file or directory",
    ]


def test_tracebacks_keep_frames_and_only_our_own_exception_text(captured) -> None:
    def lookup() -> None:
        try:
            raise ValueError(f"bad row ({EMAIL}, {NAME})")
        except ValueError as err:
            raise KeyError(EMAIL) from err

    try:
        try:
            lookup()
        except KeyError:
            raise TransientFailure("database unavailable or busy (OperationalError)") from None
    except DomainError:
        structlog.get_logger("t").exception("page.failed", page=3)
    try:
        lookup()
    except KeyError:
        logging.getLogger("psycopg").warning("foreign", exc_info=True)
    first, second = captured.lines()
    assert first["page"] == 3
    assert (
        first["exception"]
        .rstrip()
        .endswith("TransientFailure: database unavailable or busy (OperationalError)")
    )
    text = second["exception"]
    assert "in lookup" in text and "raise KeyError(EMAIL) from err" in text
    assert "builtins" not in text and text.rstrip().endswith("KeyError")
    assert "ValueError\n\nThe above exception was the direct cause" in text


def test_a_crashed_thread_goes_through_the_pipeline(captured) -> None:
    def crash() -> None:
        {}[EMAIL]

    thread = threading.Thread(target=crash, name="reader")
    thread.start()
    thread.join()
    (line,) = captured.lines()
    assert (line["event"], line["thread"], line["level"]) == ("thread.crashed", "reader", "error")
    assert "in crash" in line["exception"] and line["exception"].rstrip().endswith("KeyError")


def test_uncaught_thread_and_unraisable_exceptions_in_a_process_go_through_the_pipeline() -> None:
    script = textwrap.dedent(
        f"""
        from sfsync.entrypoints.logs import configure_logging
        configure_logging("json", "info")

        import threading

        class Row:
            def __del__(self):
                raise ValueError({EMAIL!r})

        def read():
            raise LookupError({PHONE!r})

        Row()
        thread = threading.Thread(target=read, name="reader")
        thread.start()
        thread.join()
        raise KeyError({NAME!r})
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and done.stdout == ""
    assert not any(p in done.stderr for p in PERSONAL), done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    events = [line["event"] for line in lines]
    assert events == ["exception_ignored", "thread.crashed", "uncaught_exception"]
    assert lines[0]["object"] == "function" and "in __del__" in lines[0]["exception"]
    assert "in read" in lines[1]["exception"] and lines[1]["thread"] == "reader"
    assert lines[2]["exception"].rstrip().endswith("KeyError")


def test_stamina_retries_log_the_kind_of_failure_only(captured) -> None:
    for attempt in stamina.retry_context(on=ValueError, attempts=2, wait_initial=0, wait_max=0):
        with attempt:
            if attempt.num == 1:
                raise ValueError(EMAIL)
    (line,) = captured.lines()
    assert line["event"] == "retry.scheduled" and line["caused_by"] == "ValueError"


# --- size: 10 MB through every path --------------------------------------------------------

TEN_MB = 10_000_000
HUGE = {
    "word_run": "x" * TEN_MB,
    "word_run_then_at": "x" * TEN_MB + "@",
    "many_at": "a@" * (TEN_MB // 2),
    "email_like": ("a" * 1000 + "@" + "b" * 1000 + ".") * 5000,
    "spaces": ("Lovelace ada@example.com " * (TEN_MB // 25)),
}


@contextlib.contextmanager
def alone() -> Iterator[None]:
    """Our handler only, while the block runs: pytest's capture handlers (on the root and on
    every non-propagating logger) would also format the raw records, slowly."""
    root = logging.getLogger()
    kept = root.handlers[:]
    root.handlers[:] = [h for h in kept if isinstance(h.formatter, ProcessorFormatter)]
    try:
        yield
    finally:
        root.handlers[:] = kept


def _bounded(lines: list[dict[str, Any]], count: int) -> None:
    assert len(lines) == count
    for line in lines:
        assert len(json.dumps(line)) < logs.MAX_TRACEBACK + logs.MAX_EVENT + 2_000


@pytest.mark.timeout(10)
def test_huge_strings_in_our_own_events(captured) -> None:
    log = structlog.get_logger("t")
    with alone():
        for name, text in HUGE.items():
            nested = {"a": [text, {"b": text}]}
            log.info(text, kind=name, value=text, nested=nested, items=[text] * 99)
            log.info("big.key", **{text[:1_000_000]: 1})
    _bounded(captured.lines(personal=True), 2 * len(HUGE))


@pytest.mark.timeout(10)
def test_huge_strings_in_foreign_records_and_exceptions(captured) -> None:
    log = logging.getLogger("dramatiq.worker")
    message = dramatiq.Message("q", "a", (), {"body": HUGE["word_run"]}, {}, message_id="m")
    with alone():
        for text in HUGE.values():
            log.error(text)
            log.error("Failed %s %s %r", message, text, {"body": text})
            for exc in (ValueError(text), InvalidMessage(text), KeyError(text)):
                try:
                    raise exc
                except Exception:
                    log.error("failed %s", text, exc_info=True)
                    structlog.get_logger("t").exception("failed", text=text)
    _bounded(captured.lines(personal=True), len(HUGE) * 8)


@pytest.mark.timeout(10)
def test_huge_strings_in_crashes(captured) -> None:
    def crash(text: str) -> None:
        raise ValueError(text)

    with alone():
        for text in HUGE.values():
            thread = threading.Thread(target=crash, args=(text,))
            thread.start()
            thread.join()
            try:
                crash(text)
            except ValueError as err:
                sys.excepthook(type(err), err, err.__traceback__)
    _bounded(captured.lines(personal=True), len(HUGE) * 2)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("text", HUGE.values(), ids=HUGE.keys())
def test_huge_strings_through_the_codec(text: str) -> None:
    good = {
        "type": "sync.requested",
        "version": 1,
        "id": "r1",
        "requested_at": "2026-11-27T18:00:00Z",
        "account_id": "acc",
        "scope": "import",
    }
    for body in (
        {**good, "id": text},
        {**good, "type": text},
        {**good, "note": text, "scope": text},
        json.dumps({**good, "account_id": text}).encode(),
        ('{"type": "' + text).encode(),
    ):
        with pytest.raises(InvalidMessage) as info:
            decode(body)
        assert len(info.value.message) < 500
