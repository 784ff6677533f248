"""Undo what `configure_logging` changes for the whole process, after a test that called it."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import stamina.instrumentation
import structlog


@contextmanager
def logging_restored() -> Iterator[None]:
    hooks = (sys.excepthook, threading.excepthook, sys.unraisablehook)
    try:
        yield
    finally:
        sys.excepthook, threading.excepthook, sys.unraisablehook = hooks
        stamina.instrumentation.set_on_retry_hooks(None)
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
        logging.getLogger().setLevel(logging.WARNING)
