"""structlog set-up: JSON in production, pretty on a terminal, values kept out by structure.

What may enter a log line is decided by where it comes from, not by searching the text:
- our own events carry codes, ids, counts and field names, never a message body or a record
  value (errors built by sfsync, the DomainError family, are worded without values);
- a foreign stdlib record (dramatiq, pika, psycopg) has its arguments replaced before it is
  formatted: a dramatiq message becomes "actor message_id", a dict, list or bytes its size;
- an exception keeps its traceback frames, but its text only if it is a DomainError; any
  other shows its type (a KeyError, a psycopg or JSON error may quote the data);
- uncaught exceptions (the main thread, other threads, `__del__`) take the same path;
- a last net: secret-looking keys are dropped and every string is capped before the cheap
  email/bearer masking runs, so a line costs time linear in its capped size.
"""

from __future__ import annotations

import enum
import logging
import re
import sys
import threading
import traceback
from collections.abc import Mapping, MutableMapping
from datetime import date, datetime
from typing import Any, TextIO

import stamina.instrumentation
import structlog
from dramatiq import Message
from dramatiq.broker import MessageProxy

from sfsync.domain.errors import DomainError

SECRET_KEYS = re.compile(
    r"token|secret|password|authorization|assertion|api_key|cookie|code_verifier|^code$|^key$",
    re.IGNORECASE,
)
EMAIL = re.compile(r"[^\s@\"'<>(),;:]+@[^\s@\"'<>(),;:]+\.[^\s@\"'<>(),;:]+")
BEARER = re.compile(r"(Bearer|OAuth)\s+[^\s\"']+", re.IGNORECASE)
REDACTED = "[redacted]"
MAX_CHARS = 1_000  # any string in a log line, before masking
MAX_TRACEBACK = 20_000  # a rendered traceback (frames + safe exception lines)
MAX_EVENT = 10_000  # all the strings of one event's values together
MAX_ITEMS = 50  # entries of a dict or list we log ourselves
MAX_DEPTH = 4  # nesting of those
MAX_FRAMES = 40  # innermost frames kept per exception
MAX_CHAIN = 5  # exceptions kept from a __cause__/__context__ chain
PRIMITIVES = (bool, int, float, type(None), datetime, date)


def cap(text: str, limit: int = MAX_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}...[{len(text) - limit} more]"


def _secret(key: str) -> bool:
    return SECRET_KEYS.search(key[:200]) is not None


def _mask(text: str) -> str:
    if "@" in text:
        text = EMAIL.sub("[email]", text)
    return BEARER.sub(r"\1 " + REDACTED, text)


# --- exceptions ---------------------------------------------------------------------------


def _type_name(exc: BaseException) -> str:
    cls = type(exc)
    module = cls.__module__
    name = cls.__qualname__
    return name if module in ("builtins", "__main__") else f"{module}.{name}"


def describe_exception(exc: BaseException, depth: int = 0) -> str:
    """One line: our DomainError's own text, an AMQP close reason, an OS error's errno text,
    else the type alone (with the same for exceptions it wraps, as dramatiq's
    ConnectionClosed does)."""
    name = _type_name(exc)
    if isinstance(exc, DomainError):
        return f"{name}: {cap(str(exc))}"
    code, text = getattr(exc, "reply_code", None), getattr(exc, "reply_text", None)
    if isinstance(code, int) and isinstance(text, str):  # pika: the broker's close reason
        return f"{name}: {code} {cap(text, 300)}"
    if isinstance(exc, OSError) and exc.errno is not None:  # not its filename
        return f"{name}: [Errno {exc.errno}] {cap(str(exc.strerror), 200)}"
    wrapped = [a for a in exc.args[:3] if isinstance(a, BaseException)] if depth < 3 else []
    inner = ", ".join(describe_exception(a, depth + 1) for a in wrapped)
    return f"{name}({inner})" if inner else name


CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def _chain(exc: BaseException) -> list[tuple[BaseException, str]]:
    """The exception and its causes, oldest first, each with the text leading to the next."""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link = ""
    while current is not None and id(current) not in seen and len(chain) < MAX_CHAIN:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, CONTEXT
        else:
            current = None
    return chain[::-1]


def render_exception(exc: BaseException) -> str:
    """A traceback with every frame (file, line, function, code) and only safe exception text."""
    out: list[str] = []
    for current, link in _chain(exc):
        if current.__traceback__ is not None:
            out.append("Traceback (most recent call last):\n")
            out.extend(traceback.extract_tb(current.__traceback__, limit=-MAX_FRAMES).format())
        out.append(describe_exception(current) + "\n")
        if isinstance(current, BaseExceptionGroup):
            out.extend(f"  + {describe_exception(e)}\n" for e in current.exceptions[:10])
        out.append(link)
    return cap("".join(out), MAX_TRACEBACK)


def _exc_of(exc_info: Any) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        return exc_info[1]
    if exc_info is True:
        return sys.exc_info()[1]
    return None


def render_exc_info(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Any:
    """structlog processor: `exc_info` becomes `exception`, rendered by render_exception."""
    exc = _exc_of(event_dict.pop("exc_info", None))
    if exc is not None:
        event_dict["exception"] = render_exception(exc)
    return event_dict


# --- values ---------------------------------------------------------------------------------


def _message(message: Any) -> str:
    return f"{cap(str(message.actor_name), 200)} {cap(str(message.message_id), 200)}"


def foreign_arg(value: Any) -> Any:
    """A stdlib log argument as it may be shown: a dramatiq message by actor and id, a
    container or bytes by size (a message body, a row), an object by its type."""
    if isinstance(value, PRIMITIVES):
        return value
    if isinstance(value, str):
        return cap(value)
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, Message | MessageProxy):
        return _message(value)
    if isinstance(value, BaseException):
        return describe_exception(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        return f"<{type(value).__name__} of {len(value)}>"
    if isinstance(value, type):
        return value.__qualname__
    return f"<{type(value).__qualname__}>"


class _Budget:
    """Characters an event's values may still use (a traceback has its own cap)."""

    def __init__(self) -> None:
        self.left = MAX_EVENT

    def take(self, text: str) -> str:
        text = cap(text, max(0, min(MAX_CHARS, self.left)))
        self.left -= len(text)
        return text


def _bounded(value: Any, budget: _Budget, depth: int = 0) -> Any:
    """A value of our own event, capped in length, size and depth, then masked."""
    if isinstance(value, str):
        return _mask(budget.take(value))
    if isinstance(value, (*PRIMITIVES, enum.Enum)):
        return value
    if depth >= MAX_DEPTH or budget.left <= 0:
        return "[nested]" if budget.left > 0 else "[more]"
    if isinstance(value, Mapping):
        return {
            budget.take(str(k)): REDACTED if _secret(str(k)) else _bounded(v, budget, depth + 1)
            for k, v in list(value.items())[:MAX_ITEMS]
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_bounded(v, budget, depth + 1) for v in list(value)[:MAX_ITEMS]]
    return _mask(budget.take(foreign_arg(value)))


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The last net: secret-looking keys dropped, strings capped (each, and all of an event's
    together), then emails and bearer tokens masked; a traceback has a larger cap of its own."""
    budget = _Budget()
    for key in sorted(event_dict, key=lambda k: k != "event"):  # the event's name first
        value = event_dict[key]
        if key.startswith("_"):  # structlog's own record keys
            continue
        if len(key) > 200:
            del event_dict[key]
            key = cap(key, 200)
        if _secret(key):
            event_dict[key] = REDACTED
        elif key == "exception" and isinstance(value, str):
            event_dict[key] = _mask(cap(value, MAX_TRACEBACK))
        else:
            event_dict[key] = _bounded(value, budget)
    return event_dict


class ForeignRecords(logging.Filter):
    """Formats a library's record from safe arguments before anything else sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict) and hasattr(record, "_logger"):
            return True  # structlog's own event: its processors have run
        template = record.msg if isinstance(record.msg, str) else foreign_arg(record.msg)
        args = record.args
        try:
            if isinstance(args, Mapping) and "%(" in str(template):  # named placeholders
                message = template % {k: foreign_arg(v) for k, v in args.items()}
            elif isinstance(args, Mapping):  # logging unwraps a lone dict argument
                message = template % (foreign_arg(args),)
            elif args:
                message = template % tuple(foreign_arg(a) for a in args)
            else:
                message = str(template)
        except (TypeError, ValueError, KeyError):
            message = f"{template} (arguments not shown)"
        record.msg, record.args = cap(message), ()
        return True


# --- uncaught exceptions ----------------------------------------------------------------


def _uncaught(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
    structlog.get_logger("sfsync").critical("uncaught_exception", exc_info=(exc_type, exc, tb))


def _thread_crashed(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    structlog.get_logger("sfsync").error(
        "thread.crashed",
        thread=args.thread.name if args.thread else None,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


def _unraisable(args: Any) -> None:
    if args.exc_value is None:
        return
    structlog.get_logger("sfsync").error(
        "exception_ignored",
        object=type(args.object).__qualname__,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


def _retry_scheduled(details: stamina.instrumentation.RetryDetails) -> None:
    """stamina's own hook logs repr(caused_by) and the call's arguments: ours does not."""
    structlog.get_logger("stamina").warning(
        "retry.scheduled",
        retry_num=details.retry_num,
        caused_by=describe_exception(details.caused_by),
        wait_for=round(details.wait_for, 2),
    )


def configure_logging(
    log_format: str = "auto", level: str = "info", stream: TextIO | None = None
) -> None:
    """Route structlog, stdlib logging (dramatiq, pika, psycopg), uncaught exceptions and
    stamina's retries through one pipeline, to `stream` (stderr by default)."""
    stream = stream or sys.stderr
    use_json = log_format == "json" or (log_format == "auto" and not stream.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())  # no escapes in a file
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        render_exc_info,
        redact,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.addFilter(ForeignRecords())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries that log preformatted text (URLs with SOQL, headers) stay at warning.
    for name in ("pika", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    sys.excepthook = _uncaught
    threading.excepthook = _thread_crashed
    sys.unraisablehook = _unraisable
    stamina.instrumentation.set_on_retry_hooks([_retry_scheduled])
