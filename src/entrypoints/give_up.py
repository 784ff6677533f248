"""Telling the client when a sync.requested fails for good.

dramatiq's Retries middleware marks a message failed when no retry will follow: its retries
are used up (a TimeLimitExceeded or any other error on the last attempt), or it raised an
error listed in `throws`; the message then goes to the dead letters, from where it can be
replayed. GiveUp runs after Retries has decided (after-hooks run in reverse order, so it is
placed before Retries) and hands the message's body and error to a callback, which ends the
request's run as failed and publishes sync.completed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from dramatiq import Middleware
from dramatiq.middleware import TimeLimitExceeded
from dramatiq.threading import Interrupt

from sfsync.domain.errors import DomainError, PermanentFailure
from sfsync.services.import_plan import RecordError

log = structlog.get_logger(__name__)


class GiveUp(Middleware):
    def __init__(self, actor_name: str, callback: Callable[[Any, BaseException], None]) -> None:
        self.actor_name = actor_name
        self.callback = callback

    def after_process_message(
        self,
        broker: Any,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None or not message.failed or message.actor_name != self.actor_name:
            return
        try:
            self.callback(message.kwargs.get("body"), exception)
        except (Exception, Interrupt) as err:  # the message is dead-lettered all the same
            log.error("run.give_up_failed", error=type(err).__name__)


def reason(exception: BaseException) -> RecordError:
    """The run's error: a code and our own message, never text from a foreign exception."""
    found: BaseException | None = exception
    while found is not None and not isinstance(found, DomainError):
        found = found.__cause__ or found.__context__  # e.g. a Retry raised for our error
    if isinstance(found, DomainError):
        code, message = found.code, found.message
    elif isinstance(exception, TimeLimitExceeded):
        code, message = "time_limit", "an attempt ran past the time limit"
    else:
        code, message = "internal_error", f"unexpected {type(exception).__name__}"
    if not isinstance(found, PermanentFailure):
        message += "; no retry left"
    return RecordError(code, message)
