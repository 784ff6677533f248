import pytest
from cryptography.fernet import Fernet

from sfsync.entrypoints.settings import ConfigError, Settings


def test_defaults_point_at_local_services():
    settings = Settings.from_env({})
    assert settings.database_url.startswith("postgresql://postgres@127.0.0.1:5432/")
    assert settings.amqp_url == "amqp://guest:guest@127.0.0.1:5672/%2F"
    assert settings.encryption_keys == ()


def test_keys_are_split_and_kept_in_order():
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings = Settings.from_env({"SFSYNC_ENCRYPTION_KEYS": f"{first}, {second}"})
    assert settings.encryption_keys == (first, second)


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("DATABASE_URL", "mysql://x"),
        ("AMQP_URL", "http://rabbit"),
        ("SFSYNC_ENCRYPTION_KEYS", "not-a-key"),
        ("SFSYNC_LOG_FORMAT", "xml"),
        ("SFSYNC_LOG_LEVEL", "loud"),
        ("SFSYNC_QUEUE_PREFIX", "bad prefix!"),
        ("SFSYNC_SALESFORCE_API_VERSION", "62"),
        ("SFSYNC_SALESFORCE_API_VERSION", "25.0"),
        ("SFSYNC_BULK_THRESHOLD", "many"),
        ("SFSYNC_BULK_WRITE_THRESHOLD", "0"),
        ("SFSYNC_WORKER_THREADS", "0"),
        ("SFSYNC_MAX_RETRIES", "-1"),
        ("SFSYNC_MIN_BACKOFF_MS", "soon"),
        ("SFSYNC_TIME_LIMIT_MS", "10"),
        ("SFSYNC_SCHEDULE_GRACE_MINUTES", "0"),
        ("SFSYNC_SCHEDULE_JITTER_SECONDS", "-1"),
        ("SFSYNC_SCHEDULE_TICK_SECONDS", "often"),
        ("SFSYNC_SCHEDULE_BATCH", "0"),
        ("SFSYNC_METRICS_PORT", "-1"),
        ("SFSYNC_METRICS_PORT", "65536"),
        ("SFSYNC_METRICS_PORT", "http"),
        ("SFSYNC_SHUTDOWN_GRACE_SECONDS", "0"),
        ("SFSYNC_SHUTDOWN_GRACE_SECONDS", "soon"),
    ],
)
def test_invalid_value_names_the_variable(var, value):
    with pytest.raises(ConfigError, match=var):
        Settings.from_env({var: value})


def test_error_never_echoes_a_secret_value():
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"SFSYNC_ENCRYPTION_KEYS": "hunter2-secret"})
    assert "hunter2" not in str(info.value)


def test_retries_are_configurable_for_tests():
    settings = Settings.from_env({"SFSYNC_MAX_RETRIES": "1", "SFSYNC_MIN_BACKOFF_MS": "50"})
    assert (settings.retries.max_retries, settings.retries.min_backoff_ms) == (1, 50)
    assert Settings.from_env({}).retries.max_retries == 6


def test_the_push_switches_to_bulk_at_a_configurable_size():
    assert Settings.from_env({}).bulk_write_threshold == 2_000
    assert Settings.from_env({"SFSYNC_BULK_WRITE_THRESHOLD": "50"}).bulk_write_threshold == 50


def test_the_scheduler_defaults_six_hours_grace_and_no_jitter():
    settings = Settings.from_env({})
    assert (settings.schedule_grace_minutes, settings.schedule_jitter_seconds) == (360, 0)
    tuned = Settings.from_env({"SFSYNC_SCHEDULE_GRACE_MINUTES": "90"})
    assert tuned.schedule_grace_minutes == 90


def test_the_metrics_port_is_the_commands_default_unless_set_and_0_turns_it_off():
    assert Settings.from_env({}).metrics_port is None  # worker 9400, scheduler 9401
    assert Settings.from_env({"SFSYNC_METRICS_PORT": "9410"}).metrics_port == 9410
    assert Settings.from_env({"SFSYNC_METRICS_PORT": "0"}).metrics_port == 0
    assert Settings().metrics_port == 0  # built in code (tests): no port unless asked


def test_the_shutdown_grace_fits_dockers_default_stop_timeout():
    assert Settings.from_env({}).shutdown_grace_seconds == 8  # Docker kills after 10 s
    tuned = Settings.from_env({"SFSYNC_SHUTDOWN_GRACE_SECONDS": "30"})
    assert tuned.shutdown_grace_seconds == 30
