"""OAuth helpers: PKCE authorize URL, code exchange form, JWT assertion claims."""

from __future__ import annotations

import base64
import hashlib

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sfsync.adapters.salesforce.auth import (
    OAuthApp,
    authorize_url,
    exchange_code,
    identity_ids,
    jwt_assertion,
)
from sfsync.adapters.salesforce.errors import SalesforceAuthError

APP = OAuthApp("https://login.salesforce.com", "cid", "secret", "https://app.example/cb")


def test_authorize_url_carries_an_s256_challenge_of_the_verifier() -> None:
    request = authorize_url(APP, state="s1")
    params = httpx.URL(request.url).params
    digest = hashlib.sha256(request.code_verifier.encode()).digest()
    assert params["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert params["code_challenge_method"] == "S256" and params["state"] == "s1"
    assert params["response_type"] == "code" and params["redirect_uri"] == APP.redirect_uri
    assert request.url.startswith("https://login.salesforce.com/services/oauth2/authorize?")


def test_code_exchange_sends_verifier_and_reads_instance_url() -> None:
    sent = []

    def token(request: httpx.Request) -> httpx.Response:
        sent.append(httpx.QueryParams(request.content.decode()))
        return httpx.Response(
            200,
            json={
                "access_token": "a",
                "instance_url": "https://acme.my.salesforce.com",
                "refresh_token": "rt-secret",
                "issued_at": "1700000000000",
            },
        )

    http = httpx.Client(transport=httpx.MockTransport(token))
    tokens = exchange_code(http, APP, "code1", "verifier1")
    assert tokens.instance_url == "https://acme.my.salesforce.com"
    assert tokens.refresh_token == "rt-secret"
    assert sent[0]["code_verifier"] == "verifier1" and sent[0]["client_secret"] == "secret"
    assert "rt-secret" not in repr(tokens)


@pytest.mark.parametrize(
    ("identity", "ids"),
    [
        (
            "https://login.salesforce.com/id/00D5g000004ABCDEA2/0055g00000ABCDEAA2",
            ("00D5g000004ABCDEA2", "0055g00000ABCDEAA2"),
        ),
        (
            "https://test.salesforce.com/id/00D5g000004ABCD/0055g00000ABCDE/",
            ("00D5g000004ABCD", "0055g00000ABCDE"),
        ),
        ("https://login.salesforce.com/id/ada@example.com/005", (None, None)),
        (None, (None, None)),
        (42, (None, None)),
    ],
)
def test_org_and_user_ids_come_from_the_identity_url_or_not_at_all(identity, ids) -> None:
    assert identity_ids(identity) == ids


def test_refused_code_exchange_is_an_auth_error() -> None:
    http = httpx.Client(
        transport=httpx.MockTransport(
            lambda r: httpx.Response(400, json={"error": "invalid_client"})
        )
    )
    with pytest.raises(SalesforceAuthError) as err:
        exchange_code(http, APP, "c", "v")
    assert err.value.error_code == "invalid_client"


def test_jwt_assertion_has_salesforce_claims_and_short_expiry() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    token = jwt_assertion(APP, "user@example.com", pem, now=1_700_000_000)
    claims = jwt.decode(
        token,
        key.public_key(),
        algorithms=["RS256"],
        audience="https://login.salesforce.com",
        options={"verify_exp": False},
    )
    assert claims == {
        "iss": "cid",
        "sub": "user@example.com",
        "aud": "https://login.salesforce.com",
        "exp": 1_700_000_180,
    }
