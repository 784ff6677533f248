"""OAuth 2.0 endpoints: authorize (auto-approve), token (code+PKCE, refresh, jwt-bearer), revoke."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlencode

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from sfsync_emulator.auth import ORG_ID, USERNAME, Client
from sfsync_emulator.http import empty, json_response, oauth_error
from sfsync_emulator.seed import USER_ID
from sfsync_emulator.state import Org

ID_URL = f"https://login.salesforce.com/id/{ORG_ID}/{USER_ID}"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AUDIENCES = ["https://login.salesforce.com", "https://test.salesforce.com"]


def instance_url(request: web.Request, org: Org) -> str:
    return f"{'https' if org.config.https else 'http'}://{request.host}"


def _token_body(
    request: web.Request, org: Org, client: Client, access: str, refresh: str | None
) -> dict[str, Any]:
    issued = str(int(time.time() * 1000))
    mac = hmac.new(client.client_secret.encode(), (ID_URL + issued).encode(), hashlib.sha256)
    body: dict[str, Any] = {"access_token": access}
    if refresh:
        body["refresh_token"] = refresh
    body.update(
        signature=base64.b64encode(mac.digest()).decode(),
        scope="api refresh_token",
        instance_url=instance_url(request, org),
        id=ID_URL,
        token_type="Bearer",
        issued_at=issued,
    )
    return body


def _client_auth(request: web.Request, form: Any) -> tuple[str | None, str | None]:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            cid, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            return cid, secret
        except (ValueError, UnicodeDecodeError):
            return None, None
    return form.get("client_id"), form.get("client_secret")


async def token(request: web.Request, org: Org) -> web.Response:
    form = await request.post()
    grant = form.get("grant_type")
    if not grant:
        return oauth_error("invalid_request", "grant type is missing")
    if grant == JWT_BEARER:
        return _jwt_grant(request, org, str(form.get("assertion", "")))
    if grant not in ("authorization_code", "refresh_token"):
        return oauth_error("unsupported_grant_type", "grant type not supported")
    cid, secret = _client_auth(request, form)
    client = org.auth.clients.get(cid or "")
    if client is None:
        return oauth_error("invalid_client_id", "client identifier invalid")
    if secret and secret != client.client_secret:
        return oauth_error("invalid_client", "invalid client credentials")
    auth = org.auth
    if grant == "refresh_token":
        refresh = str(form.get("refresh_token", ""))
        if auth.refresh.get(refresh) != client.client_id:
            return oauth_error("invalid_grant", "expired access/refresh token")
        if auth.rotate:
            del auth.refresh[refresh]
            new = auth.new_refresh(client.client_id)
            return json_response(
                _token_body(request, org, client, auth.mint(client.client_id, new), new)
            )
        return json_response(
            _token_body(request, org, client, auth.mint(client.client_id, refresh), None)
        )
    code = auth.codes.pop(str(form.get("code", "")), None)
    if code is None or code.expires_at < time.time() or code.client_id != client.client_id:
        return oauth_error("invalid_grant", "invalid authorization code")
    if form.get("redirect_uri") != code.redirect_uri:
        return oauth_error("invalid_grant", "redirect_uri must match configuration")
    verifier = str(form.get("code_verifier", ""))
    if code.challenge is not None:
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).decode().rstrip("=") != code.challenge:
            return oauth_error("invalid_grant", "invalid code verifier")
    elif not secret:
        return oauth_error("invalid_client", "invalid client credentials")
    scopes = code.scope.split()
    refresh = None
    if not scopes or {"refresh_token", "offline_access", "full"} & set(scopes):
        refresh = auth.new_refresh(client.client_id)
    return json_response(
        _token_body(request, org, client, auth.mint(client.client_id, refresh), refresh)
    )


def _public_key(pem: str) -> Any:
    data = pem.encode()
    if b"CERTIFICATE" in data:
        return x509.load_pem_x509_certificate(data).public_key()
    return load_pem_public_key(data)


def _jwt_grant(request: web.Request, org: Org, assertion: str) -> web.Response:
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return oauth_error("invalid_grant", "invalid assertion")
    client = org.auth.clients.get(str(claims.get("iss", "")))
    if client is None or not client.cert_pem:
        return oauth_error("invalid_client_id", "client identifier invalid")
    try:
        claims = jwt.decode(
            assertion,
            _public_key(client.cert_pem),
            algorithms=["RS256"],
            audience=[*AUDIENCES, instance_url(request, org)],
            options={"require": ["exp", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        return oauth_error("invalid_grant", "expired authorization code")
    except jwt.InvalidAudienceError:
        return oauth_error("invalid_grant", "audience is invalid")
    except jwt.PyJWTError:
        return oauth_error("invalid_grant", "invalid assertion")
    if int(claims["exp"]) > time.time() + 360:
        return oauth_error("invalid_grant", "invalid assertion")
    if (claims.get("sub") or claims.get("prn")) != USERNAME:
        return oauth_error("invalid_grant", "user hasn't approved this consumer")
    access = org.auth.mint(client.client_id)
    return json_response(_token_body(request, org, client, access, None))


async def authorize(request: web.Request, org: Org) -> web.Response:
    q = request.query
    client = org.auth.clients.get(q.get("client_id", ""))
    if client is None:
        return oauth_error("invalid_client_id", "client identifier invalid")
    redirect = q.get("redirect_uri", "")
    if redirect not in client.redirect_uris:
        return oauth_error("redirect_uri_mismatch", "redirect_uri must match configuration")
    state = {"state": q["state"]} if "state" in q else {}
    sep = "&" if "?" in redirect else "?"
    if q.get("response_type") != "code":
        params = {
            "error": "unsupported_response_type",
            "error_description": "response type not supported",
            **state,
        }
    elif org.auth.deny:
        params = {
            "error": "access_denied",
            "error_description": "end-user denied authorization",
            **state,
        }
    else:
        challenge = q.get("code_challenge")
        if challenge and q.get("code_challenge_method", "S256") != "S256":
            params = {
                "error": "invalid_request",
                "error_description": "code_challenge_method not supported",
                **state,
            }
        else:
            code = org.auth.new_code(client.client_id, redirect, challenge, q.get("scope", ""))
            params = {"code": code, **state}
    return web.Response(status=302, headers={"Location": redirect + sep + urlencode(params)})


async def revoke(request: web.Request, org: Org) -> web.Response:
    form = await request.post()
    value = form.get("token") or request.query.get("token")
    if not value:
        return oauth_error("unsupported_token_type", "missing token")
    if not org.auth.revoke(str(value)):
        return oauth_error("invalid_token", "invalid token")
    return empty(200)
