"""Vendor mode's settings from the environment, and opening a reader without them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sfsync.adapters.vendor.settings import VendorSettings
from sfsync.domain.errors import PermanentFailure
from sfsync.domain.model import AccountId, AccountSettings
from sfsync.domain.ports import VendorLink
from sfsync.entrypoints.gateways import HttpxGatewayFactory
from sfsync.entrypoints.settings import ConfigError, Settings
from tests.fakes import RecordingMetrics


def test_defaults_leave_vendor_mode_unconfigured() -> None:
    settings = Settings.from_env({})
    assert (settings.vendor_base_url, settings.vendor_api_key) == ("", "")
    assert settings.vendor_rate_per_minute == 100
    assert settings.vendor_max_age == timedelta(minutes=60)
    assert settings.vendor_ca_bundle is None


def test_vendor_variables_are_read(tmp_path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = Settings.from_env(
        {
            "SFSYNC_VENDOR_BASE_URL": "https://api.vendor.example/api/",
            "SFSYNC_VENDOR_API_KEY": " key-secret-1 ",
            "SFSYNC_VENDOR_RATE_PER_MINUTE": "0",
            "SFSYNC_VENDOR_CA_BUNDLE": str(ca),
            "SFSYNC_VENDOR_MAX_AGE_MINUTES": "15",
        }
    )
    assert settings.vendor_base_url == "https://api.vendor.example/api"
    assert settings.vendor_api_key == "key-secret-1"
    assert settings.vendor_rate_per_minute == 0
    assert settings.vendor_ca_bundle == str(ca)
    assert settings.vendor_max_age == timedelta(minutes=15)
    assert "key-secret-1" not in repr(settings)


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("SFSYNC_VENDOR_BASE_URL", "http://api.vendor.example/api"),
        ("SFSYNC_VENDOR_BASE_URL", "https://user:pw@api.vendor.example/api"),
        ("SFSYNC_VENDOR_BASE_URL", "api.vendor.example"),
        ("SFSYNC_VENDOR_RATE_PER_MINUTE", "-1"),
        ("SFSYNC_VENDOR_RATE_PER_MINUTE", "lots"),
        ("SFSYNC_VENDOR_CA_BUNDLE", "/no/such/file.pem"),
        ("SFSYNC_VENDOR_MAX_AGE_MINUTES", "-1"),
    ],
)
def test_bad_values_name_the_variable(var: str, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env({var: value})
    assert var in str(err.value) and "pw" not in str(err.value)


def test_a_max_age_of_zero_resyncs_before_every_manual_import() -> None:
    settings = Settings.from_env({"SFSYNC_VENDOR_MAX_AGE_MINUTES": "0"})
    assert settings.vendor_max_age.total_seconds() == 0


def test_vendor_settings_keep_the_key_out_of_the_repr_and_bound_the_page() -> None:
    settings = VendorSettings("https://v.example/api/", "key-secret-2")
    assert "key-secret-2" not in repr(settings)
    assert settings.api_root == "https://v.example/api/crm/v1"
    with pytest.raises(ValueError):
        VendorSettings("https://v.example/api", "k", page_size=101)


@pytest.mark.parametrize(
    "env",
    [{}, {"SFSYNC_VENDOR_BASE_URL": "https://v.example/api"}, {"SFSYNC_VENDOR_API_KEY": "k"}],
)
def test_opening_or_unlinking_without_url_and_key_is_vendor_not_configured(env) -> None:
    factory = HttpxGatewayFactory(Settings.from_env(env), uow=None, metrics=RecordingMetrics())  # type: ignore[arg-type]
    link = VendorLink(AccountId("acct-1"), "token-1")
    with pytest.raises(PermanentFailure) as opened:
        with factory.open_vendor(link, AccountSettings(AccountId("acct-1"))):
            pass
    with pytest.raises(PermanentFailure) as unlinked:
        factory.unlink_vendor(link)
    assert opened.value.code == unlinked.value.code == "vendor_not_configured"
