"""OAuth flows: authorize + PKCE, refresh rotation, jwt-bearer, denial."""

from __future__ import annotations

import base64
import datetime
import hashlib
import secrets
import time
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from sfsync_emulator.harness import Emulator


def _authorize(raw: httpx.Client, org: Emulator, **extra: str) -> dict[str, list[str]]:
    params = {
        "response_type": "code",
        "client_id": org.client_id,
        "redirect_uri": org.redirect_uri,
        "state": "xyz",
        **extra,
    }
    res = raw.get("/services/oauth2/authorize", params=params)
    assert res.status_code == 302
    location = res.headers["Location"]
    assert location.startswith(org.redirect_uri)
    return parse_qs(urlparse(location).query)


def test_authorization_code_with_pkce(raw: httpx.Client, org: Emulator) -> None:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = _authorize(
        raw, org, code_challenge=challenge.decode().rstrip("="), code_challenge_method="S256"
    )
    assert query["state"] == ["xyz"]
    form = {
        "grant_type": "authorization_code",
        "code": query["code"][0],
        "client_id": org.client_id,
        "redirect_uri": org.redirect_uri,
    }
    bad = raw.post("/services/oauth2/token", data={**form, "code_verifier": "wrong"})
    assert bad.json()["error"] == "invalid_grant"  # and the code is now spent
    query = _authorize(raw, org, code_challenge=challenge.decode().rstrip("="))
    form["code"] = query["code"][0]
    body = raw.post("/services/oauth2/token", data={**form, "code_verifier": verifier}).json()
    assert body["token_type"] == "Bearer" and body["refresh_token"]
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert raw.get("/services/data/v59.0/limits", headers=headers).status_code == 200


def test_authorize_validation_and_denial(raw: httpx.Client, org: Emulator) -> None:
    wrong = raw.get(
        "/services/oauth2/authorize",
        params={"response_type": "code", "client_id": "nope", "redirect_uri": org.redirect_uri},
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_client_id"
    bad_uri = raw.get(
        "/services/oauth2/authorize",
        params={"response_type": "code", "client_id": org.client_id, "redirect_uri": "http://evil"},
    )
    assert bad_uri.status_code == 400
    org.admin.set_oauth(deny_authorization=True)
    assert _authorize(raw, org)["error"] == ["access_denied"]


def test_refresh_rotation_and_revocation(raw: httpx.Client, org: Emulator) -> None:
    org.admin.set_oauth(rotate_refresh_tokens=True)
    old = org.admin.mint_token(refresh=True)["refresh_token"]
    form = {
        "grant_type": "refresh_token",
        "client_id": org.client_id,
        "client_secret": org.client_secret,
    }
    body = raw.post("/services/oauth2/token", data={**form, "refresh_token": old}).json()
    assert body["refresh_token"] != old
    reuse = raw.post("/services/oauth2/token", data={**form, "refresh_token": old})
    assert reuse.json() == {
        "error": "invalid_grant",
        "error_description": "expired access/refresh token",
    }
    org.admin.revoke_refresh_tokens()
    again = raw.post(
        "/services/oauth2/token", data={**form, "refresh_token": body["refresh_token"]}
    )
    assert again.status_code == 400


def test_jwt_bearer(raw: httpx.Client, org: Emulator) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sfsync")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    org.admin.register_client(
        "jwt-app", cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    claims = {
        "iss": "jwt-app",
        "sub": "emulator@sfsync.local",
        "aud": "https://login.salesforce.com",
        "exp": str(int(time.time()) + 180),
    }
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    ok = raw.post(
        "/services/oauth2/token",
        data={"grant_type": grant, "assertion": jwt.encode(claims, pem, algorithm="RS256")},
    )
    assert ok.status_code == 200 and "refresh_token" not in ok.json()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other, algorithm="RS256")
    bad = raw.post("/services/oauth2/token", data={"grant_type": grant, "assertion": forged})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
