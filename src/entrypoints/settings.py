"""Configuration from environment variables (12-factor), read once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import attrs

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/sfsync"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
LOG_FORMATS = ("auto", "json", "console")
LOG_LEVELS = ("debug", "info", "warning", "error")
BASE_QUEUE = "sfsync"


class ConfigError(Exception):
    """An environment variable is missing or invalid; the message names it."""


def masked_url(url: str) -> str:
    """The URL with its password (and any query naming one) replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    userinfo, at, host = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        parts = parts._replace(netloc=f"{userinfo.split(':', 1)[0]}:***@{host}")
    if "password" in parts.query.lower():
        parts = parts._replace(query="***")
    return urlunsplit(parts)


def _masked_url_repr(url: str) -> str:
    return repr(masked_url(url))


@attrs.frozen
class RetrySettings:
    """How a failed sync.requested is retried (dramatiq's Retries and TimeLimit options)."""

    max_retries: int = 6
    min_backoff_ms: int = 5_000
    max_backoff_ms: int = 600_000  # well under RabbitMQ's 30 min consumer_timeout
    time_limit_ms: int = 25 * 60_000  # per attempt; the next one carries the run on

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> RetrySettings:
        return cls(
            max_retries=_int(environ, "SFSYNC_MAX_RETRIES", 6, minimum=0),
            min_backoff_ms=_int(environ, "SFSYNC_MIN_BACKOFF_MS", 5_000, minimum=10),
            max_backoff_ms=_int(environ, "SFSYNC_MAX_BACKOFF_MS", 600_000, minimum=10),
            time_limit_ms=_int(environ, "SFSYNC_TIME_LIMIT_MS", 25 * 60_000, minimum=1_000),
        )


@attrs.frozen
class Settings:
    """The repr masks the passwords in the URLs and leaves the keys and secret out."""

    database_url: str = attrs.field(default=DEFAULT_DATABASE_URL, repr=_masked_url_repr)
    amqp_url: str = attrs.field(default=DEFAULT_AMQP_URL, repr=_masked_url_repr)
    encryption_keys: tuple[str, ...] = attrs.field(default=(), repr=False)
    log_format: str = "auto"
    log_level: str = "info"
    queue_prefix: str = ""
    salesforce_api_version: str = "62.0"
    bulk_threshold: int = 50_000
    bulk_write_threshold: int = 2_000  # a push of more updates goes as one Bulk ingest job
    worker_threads: int = 4
    # SIGTERM to exit: fits Docker's default stop timeout of 10 s (docs/operations.md)
    shutdown_grace_seconds: int = 8
    write_page: int = 2000
    signup_delay_ms: int = 5_000  # sign-ups of an account gathered before one flush
    push_page: int = 5_000  # candidates a push sends and commits together
    push_attempts: int = 5  # failed updates of one Contact in a row before it is given up
    sf_client_id: str = ""
    sf_client_secret: str = attrs.field(default="", repr=False)
    sf_redirect_uri: str = "http://127.0.0.1:8765/oauth/callback"
    sf_ca_bundle: str | None = None  # extra CA to trust (a TLS proxy, or the emulator)
    # origins besides Salesforce's own that may get credentials (the emulator, a proxy)
    sf_allowed_origins: tuple[str, ...] = ()
    retries: RetrySettings = RetrySettings()
    # vendor mode (a unified-CRM API vendor's copy of the org)
    vendor_base_url: str = ""  # ends in /api; "" is not configured
    vendor_api_key: str = attrs.field(default="", repr=False)
    vendor_rate_per_minute: int = 100  # calls per linked account; 0 lifts the limit
    vendor_ca_bundle: str | None = None  # extra CA to trust for the vendor
    # how old the vendor's last Contact sync may be before a manual import asks a resync
    vendor_max_age: timedelta = timedelta(minutes=60)
    # the scheduler (docs/scheduler.md)
    schedule_grace_minutes: int = 360  # a slot missed by more is recorded, not published
    schedule_jitter_seconds: int = 0  # each account's slots are delayed by up to this
    schedule_tick_seconds: int = 15
    schedule_batch: int = 1000  # slots claimed and published in one transaction
    # /metrics, /healthz, /readyz: None is the command's default (worker 9400, scheduler
    # 9401), 0 off (what a Settings built in code gets: tests open no port unasked)
    metrics_port: int | None = 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from `environ`; raise ConfigError naming the first bad variable."""
        return cls(
            database_url=_url(environ, "DATABASE_URL", DEFAULT_DATABASE_URL, ("postgres",)),
            amqp_url=_url(environ, "AMQP_URL", DEFAULT_AMQP_URL, ("amqp",)),
            encryption_keys=_keys(environ),
            log_format=_choice(environ, "SFSYNC_LOG_FORMAT", "auto", LOG_FORMATS),
            log_level=_choice(environ, "SFSYNC_LOG_LEVEL", "info", LOG_LEVELS),
            queue_prefix=_name(environ, "SFSYNC_QUEUE_PREFIX", ""),
            salesforce_api_version=_api_version(environ),
            bulk_threshold=_int(environ, "SFSYNC_BULK_THRESHOLD", 50_000, minimum=1),
            bulk_write_threshold=_int(environ, "SFSYNC_BULK_WRITE_THRESHOLD", 2_000, minimum=1),
            worker_threads=_int(environ, "SFSYNC_WORKER_THREADS", 4, minimum=1),
            shutdown_grace_seconds=_int(environ, "SFSYNC_SHUTDOWN_GRACE_SECONDS", 8, minimum=1),
            write_page=_int(environ, "SFSYNC_WRITE_PAGE", 2000, minimum=100),
            signup_delay_ms=_int(environ, "SFSYNC_SIGNUP_DELAY_MS", 5_000, minimum=0),
            push_page=_int(environ, "SFSYNC_PUSH_PAGE", 5_000, minimum=1),
            push_attempts=_int(environ, "SFSYNC_PUSH_ATTEMPTS", 5, minimum=1),
            sf_client_id=environ.get("SFSYNC_SF_CLIENT_ID", "").strip(),
            sf_client_secret=environ.get("SFSYNC_SF_CLIENT_SECRET", "").strip(),
            sf_redirect_uri=environ.get(
                "SFSYNC_SF_REDIRECT_URI", "http://127.0.0.1:8765/oauth/callback"
            ).strip(),
            sf_ca_bundle=_existing_file(environ, "SFSYNC_SF_CA_BUNDLE"),
            sf_allowed_origins=_origins(environ, "SFSYNC_SF_ALLOWED_ORIGINS"),
            retries=RetrySettings.from_env(environ),
            vendor_base_url=_vendor_url(environ, "SFSYNC_VENDOR_BASE_URL"),
            vendor_api_key=environ.get("SFSYNC_VENDOR_API_KEY", "").strip(),
            vendor_rate_per_minute=_int(environ, "SFSYNC_VENDOR_RATE_PER_MINUTE", 100, minimum=0),
            vendor_ca_bundle=_existing_file(environ, "SFSYNC_VENDOR_CA_BUNDLE"),
            vendor_max_age=timedelta(
                minutes=_int(environ, "SFSYNC_VENDOR_MAX_AGE_MINUTES", 60, minimum=0)
            ),
            schedule_grace_minutes=_int(environ, "SFSYNC_SCHEDULE_GRACE_MINUTES", 360, minimum=1),
            schedule_jitter_seconds=_int(environ, "SFSYNC_SCHEDULE_JITTER_SECONDS", 0, minimum=0),
            schedule_tick_seconds=_int(environ, "SFSYNC_SCHEDULE_TICK_SECONDS", 15, minimum=1),
            schedule_batch=_int(environ, "SFSYNC_SCHEDULE_BATCH", 1000, minimum=1),
            metrics_port=_port(environ, "SFSYNC_METRICS_PORT"),
        )


def queue_name(settings: Settings) -> str:
    """Where publishers send contract messages (routing key on the default exchange)."""
    return f"{settings.queue_prefix}.{BASE_QUEUE}" if settings.queue_prefix else BASE_QUEUE


def _url(environ: Mapping[str, str], var: str, default: str, schemes: tuple[str, ...]) -> str:
    value = environ.get(var, default).strip()
    if not value.startswith(schemes) or "://" not in value:
        raise ConfigError(f"{var} must be a URL starting with {' or '.join(schemes)}://")
    return value


def _keys(environ: Mapping[str, str]) -> tuple[str, ...]:
    from cryptography.fernet import Fernet

    raw = environ.get("SFSYNC_ENCRYPTION_KEYS", "").strip()
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ConfigError(
                "SFSYNC_ENCRYPTION_KEYS must be comma-separated Fernet keys "
                "(32 url-safe base64-encoded bytes each)"
            ) from None
    return keys


def _choice(environ: Mapping[str, str], var: str, default: str, choices: tuple[str, ...]) -> str:
    value = environ.get(var, default).strip().lower()
    if value not in choices:
        raise ConfigError(f"{var} must be one of {', '.join(choices)}")
    return value


def _name(environ: Mapping[str, str], var: str, default: str) -> str:
    value = environ.get(var, default).strip()
    if value and not value.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(f"{var} may only hold letters, digits, '-' and '_'")
    return value


def _int(environ: Mapping[str, str], var: str, default: int, *, minimum: int) -> int:
    raw = environ.get(var)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{var} must be a whole number") from None
    if value < minimum:
        raise ConfigError(f"{var} must be at least {minimum}")
    return value


def _port(environ: Mapping[str, str], var: str) -> int | None:
    if environ.get(var) is None:
        return None
    port = _int(environ, var, 0, minimum=0)
    if port > 65535:
        raise ConfigError(f"{var} must be a port number (0 turns it off)")
    return port


def _existing_file(environ: Mapping[str, str], var: str) -> str | None:
    value = environ.get(var, "").strip()
    if value and not os.path.isfile(value):
        raise ConfigError(f"{var} must name an existing file")
    return value or None


def _vendor_url(environ: Mapping[str, str], var: str) -> str:
    value = environ.get(var, "").strip().rstrip("/")
    if not value:
        return ""
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or parts.scheme != "https" or not parts.hostname:
        raise ConfigError(f"{var} must be an https:// URL (the vendor's API root, e.g. .../api)")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(f"{var} must hold no credentials, query or fragment")
    return value


def _origins(environ: Mapping[str, str], var: str) -> tuple[str, ...]:
    from sfsync.adapters.salesforce.hosts import parse_origin

    origins = []
    for item in environ.get(var, "").split(","):
        if item.strip():
            try:
                origins.append(parse_origin(item))
            except ValueError as err:
                shown = repr(item.strip()[:80]) if "@" not in item else "one"
                raise ConfigError(
                    f"{var}: each origin must be scheme://host[:port] (e.g."
                    f" https://127.0.0.1:8443); {shown} {err}"
                ) from None
    return tuple(origins)


def _api_version(environ: Mapping[str, str]) -> str:
    value = environ.get("SFSYNC_SALESFORCE_API_VERSION", "62.0").strip()
    major, dot, minor = value.partition(".")
    if not (major.isdigit() and dot and minor == "0" and 31 <= int(major) <= 99):
        raise ConfigError("SFSYNC_SALESFORCE_API_VERSION must look like 62.0 (31.0 or newer)")
    return value
