"""Login and instance hosts: only Salesforce's own https hosts, or origins named in settings."""

from __future__ import annotations

import httpx
import pytest

from sfsync.adapters.salesforce.auth import OAuthApp, exchange_code, jwt_assertion
from sfsync.adapters.salesforce.hosts import HostRefused, SalesforceHosts
from sfsync.entrypoints.settings import ConfigError, Settings

STRICT = SalesforceHosts()
EMULATOR = SalesforceHosts.allowing(["http://127.0.0.1:8443", "https://sf-proxy.corp.example"])


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("https://login.salesforce.com", "https://login.salesforce.com"),
        ("https://test.salesforce.com/", "https://test.salesforce.com"),
        ("https://LOGIN.Salesforce.com", "https://login.salesforce.com"),
        ("https://login.salesforce.com:443", "https://login.salesforce.com"),
        ("https://acme.my.salesforce.com", "https://acme.my.salesforce.com"),
        (
            "https://acme--uat.sandbox.my.salesforce.com",
            "https://acme--uat.sandbox.my.salesforce.com",
        ),
        (
            "https://acme-dev-ed.develop.my.salesforce.com",
            "https://acme-dev-ed.develop.my.salesforce.com",
        ),
        ("https://acme.scratch.my.salesforce.com", "https://acme.scratch.my.salesforce.com"),
    ],
)
def test_salesforce_login_hosts_are_accepted_in_normal_form(url, normal):
    assert STRICT.login_url(url) == normal


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("login.salesforce.com", "has no scheme: type https://login.salesforce.com"),
        ("acme.my.salesforce.com/", "has no scheme: type https://acme.my.salesforce.com"),
        ("http://login.salesforce.com", "is not https"),
        ("ftp://login.salesforce.com", "must start with https://"),
        ("https://evil.example", "is not a Salesforce host"),
        ("https://login.salesforce.com.evil.example", "is not a Salesforce host"),
        ("https://evilsalesforce.com", "is not a Salesforce host"),
        ("https://salesforce.com", "is not a Salesforce host"),
        ("https://na1.salesforce.com", "is not a Salesforce host"),  # an instance, not login
        ("https://a.b.my.salesforce.com", "is not a Salesforce host"),  # not a partition
        ("https://x.sandbox.my.salesforce.com.evil.example", "is not a Salesforce host"),
        ("https://-acme.my.salesforce.com", "invalid host name"),
        ("https://acme_1.my.salesforce.com", "invalid host name"),
        ("https://login.salesforce.com.", "invalid host name"),
        ("https://xn--80ak6aa92e.my.salesforce.com\u0430", "invalid host name"),
        ("https://login.salesforce.com:8443", "use port 443"),
        ("https://login.salesforce.com:x", "invalid port"),
        ("https://login.salesforce.com/services/oauth2", "must have no path"),
        ("https://login.salesforce.com?next=evil", "must not have a query"),
        ("https://login.salesforce.com#frag", "must not have a query"),
        ("https://login.salesforce.com?", "must not have a query"),
        ("https://me:pw@login.salesforce.com", "must not carry a user name"),
        ("https://login.salesforce.com\\@evil.example", "must not carry a user name"),
        ("https://127.0.0.1:8443", "is not a Salesforce host"),  # allowed only when listed
        ("", "has no scheme"),
    ],
)
def test_other_login_urls_are_refused_saying_why(url, reason):
    with pytest.raises(HostRefused) as refused:
        STRICT.login_url(url)
    assert reason in refused.value.message
    assert refused.value.code == "login_url_refused"


def test_a_refusal_never_echoes_credentials():
    with pytest.raises(HostRefused) as refused:
        STRICT.login_url("https://admin:hunter2@login.salesforce.com")
    assert "hunter2" not in refused.value.message


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("http://127.0.0.1:8443", "http://127.0.0.1:8443"),
        ("http://127.0.0.1:8443/", "http://127.0.0.1:8443"),
        ("https://sf-proxy.corp.example", "https://sf-proxy.corp.example:443"),
        ("https://sf-proxy.corp.example:443", "https://sf-proxy.corp.example:443"),
        ("https://login.salesforce.com", "https://login.salesforce.com"),
    ],
)
def test_listed_origins_are_accepted_exactly(url, normal):
    assert EMULATOR.login_url(url) == normal


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:8443",  # listed as http: the scheme is part of the origin
        "http://127.0.0.1:8444",  # another port
        "http://localhost:8443",  # another host name for the same place
        "http://sf-proxy.corp.example",
        "http://127.0.0.1:8443/services",
    ],
)
def test_an_origin_not_listed_exactly_is_refused(url):
    with pytest.raises(HostRefused):
        EMULATOR.login_url(url)


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://acme.my.salesforce.com", True),
        ("https://na139.salesforce.com", True),
        ("https://acme--uat.sandbox.my.salesforce.com", True),
        ("https://acme.lightning.force.com", True),
        ("https://acme.my.salesforce.com:443/", True),
        ("http://acme.my.salesforce.com", False),
        ("https://acme.my.salesforce.com.evil.example", False),
        ("https://evilforce.com", False),
        ("https://salesforce.com", False),
        ("https://acme.my.salesforce.com:8443", False),
        ("https://127.0.0.1:9", False),
    ],
)
def test_instance_urls_must_be_salesforce_domains(url, accepted):
    if accepted:
        assert STRICT.instance_url(url).startswith("https://")
    else:
        with pytest.raises(HostRefused) as refused:
            STRICT.instance_url(url)
        assert refused.value.code == "instance_url_refused"


@pytest.mark.parametrize(
    ("login", "aud"),
    [
        ("https://login.salesforce.com", "https://login.salesforce.com"),
        ("https://test.salesforce.com", "https://test.salesforce.com"),
        ("https://acme.my.salesforce.com", "https://login.salesforce.com"),
        ("https://acme-dev-ed.develop.my.salesforce.com", "https://login.salesforce.com"),
        ("https://acme--dev.sandbox.my.salesforce.com", "https://test.salesforce.com"),
        ("http://127.0.0.1:8443/", "http://127.0.0.1:8443"),
        ("https://sf-proxy.corp.example", "https://sf-proxy.corp.example:443"),
    ],
)
def test_jwt_audience_is_chosen_by_exact_host(login, aud):
    assert EMULATOR.jwt_audience(login) == aud


@pytest.mark.parametrize(
    "login", ["https://evil.example", "https://login.salesforce.com.evil.example", "http://x"]
)
def test_jwt_audience_refuses_a_host_that_is_not_allowed(login):
    with pytest.raises(HostRefused):
        STRICT.jwt_audience(login)


class TestOAuthApp:
    def test_an_app_cannot_be_built_for_a_refused_host(self):
        with pytest.raises(HostRefused):
            OAuthApp("http://login.salesforce.com", "cid", "secret")

    def test_the_app_keeps_the_normal_form(self):
        app = OAuthApp("https://Acme.My.Salesforce.com/", "cid")
        assert app.endpoint("token") == "https://acme.my.salesforce.com/services/oauth2/token"

    def test_jwt_assertion_uses_the_checked_audience(self):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        app = OAuthApp("https://acme--dev.sandbox.my.salesforce.com", "cid")
        import jwt

        claims = jwt.decode(jwt_assertion(app, "u", pem), options={"verify_signature": False})
        assert claims["aud"] == "https://test.salesforce.com"

    def test_a_token_response_pointing_elsewhere_is_refused(self):
        """The access token would go to instance_url: a foreign host never gets it."""
        answer = {"access_token": "a", "instance_url": "https://evil.example", "refresh_token": "r"}
        http = httpx.Client(
            transport=httpx.MockTransport(lambda r: httpx.Response(200, json=answer))
        )
        app = OAuthApp("https://login.salesforce.com", "cid", "secret", "https://app.example/cb")
        with pytest.raises(HostRefused) as refused:
            exchange_code(http, app, "code", "verifier")
        assert refused.value.code == "instance_url_refused"


class TestSetting:
    def test_allowed_origins_are_read_in_normal_form(self):
        settings = Settings.from_env(
            {"SFSYNC_SF_ALLOWED_ORIGINS": "http://127.0.0.1:8443/, https://Proxy.example"}
        )
        assert settings.sf_allowed_origins == ("http://127.0.0.1:8443", "https://proxy.example:443")

    @pytest.mark.parametrize(
        "value", ["127.0.0.1:8443", "http://127.0.0.1:8443/path", "https://u:p@h", "ws://h"]
    )
    def test_a_bad_origin_names_the_variable(self, value):
        with pytest.raises(ConfigError, match="SFSYNC_SF_ALLOWED_ORIGINS") as error:
            Settings.from_env({"SFSYNC_SF_ALLOWED_ORIGINS": value})
        assert ":p@" not in str(error.value)
