"""OAuth 2.0 against a Salesforce login host: web-server flow with PKCE, refresh, JWT bearer.

The login host is configuration (production, sandbox, My Domain, or an allowed origin such as
the emulator); data calls go to the `instance_url` of the token response. Both are checked
(hosts.py) before a secret or token is sent there. Token grants are single HTTP calls; the
client (client.py) decides when to renew and retries transport failures around them.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import attrs
import httpx
import jwt

from sfsync.adapters.salesforce.errors import (
    ReauthorizationRequired,
    SalesforceAuthError,
    SalesforceUnavailable,
    tls_failure,
)
from sfsync.adapters.salesforce.hosts import SalesforceHosts

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@attrs.frozen
class OAuthApp:
    """A connected app (or external client app) on one login host.

    The login URL is checked against `hosts` (HostRefused otherwise) and kept in its normal
    form, so no app can be built that would send a secret elsewhere.
    """

    login_url: str  # https://login.salesforce.com, https://test.salesforce.com, My Domain, ...
    client_id: str
    client_secret: str | None = attrs.field(default=None, repr=False)
    redirect_uri: str | None = None
    hosts: SalesforceHosts = SalesforceHosts()

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "login_url", self.hosts.login_url(self.login_url))

    def endpoint(self, name: str) -> str:
        return f"{self.login_url.rstrip('/')}/services/oauth2/{name}"


@attrs.frozen
class Tokens:
    access_token: str = attrs.field(repr=False)
    instance_url: str
    refresh_token: str | None = attrs.field(default=None, repr=False)
    issued_at_ms: int | None = None
    org_id: str | None = None  # from the identity URL (.../id/<org id>/<user id>)
    user_id: str | None = None


@attrs.frozen
class AuthorizationRequest:
    """Where to send the user, and what to keep until they come back."""

    url: str
    code_verifier: str = attrs.field(repr=False)
    state: str


def authorize_url(
    app: OAuthApp,
    *,
    scope: str = "api refresh_token",
    state: str | None = None,
    prompt: str | None = None,
) -> AuthorizationRequest:
    """Start the web-server flow with a PKCE S256 challenge."""
    if app.redirect_uri is None:
        raise SalesforceAuthError("the OAuth app has no redirect_uri for the web-server flow")
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    state = state or secrets.token_urlsafe(16)
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "scope": scope,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if prompt:
        params["prompt"] = prompt
    return AuthorizationRequest(f"{app.endpoint('authorize')}?{urlencode(params)}", verifier, state)


def exchange_code(http: httpx.Client, app: OAuthApp, code: str, code_verifier: str) -> Tokens:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri or "",
        "code_verifier": code_verifier,
    }
    return _grant(http, app, _with_secret(form, app))


def refresh_grant(http: httpx.Client, app: OAuthApp, refresh_token: str) -> Tokens:
    """Refresh grant; without rotation Salesforce returns no refresh token, so keep ours."""
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": app.client_id,
    }
    tokens = _grant(http, app, _with_secret(form, app))
    return tokens if tokens.refresh_token else attrs.evolve(tokens, refresh_token=refresh_token)


def jwt_assertion(
    app: OAuthApp,
    username: str,
    private_key: str,
    audience: str | None = None,
    now: float | None = None,
) -> str:
    """RS256 assertion: iss = consumer key, sub = username, aud = login host, exp = now + 3 min."""
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": app.client_id,
        "sub": username,
        "aud": audience or app.hosts.jwt_audience(app.login_url),
        "exp": issued + 180,
    }
    return jwt.encode(claims, private_key, algorithm="RS256")


def jwt_grant(
    http: httpx.Client, app: OAuthApp, username: str, private_key: str, audience: str | None = None
) -> Tokens:
    assertion = jwt_assertion(app, username, private_key, audience)
    return _grant(http, app, {"grant_type": JWT_GRANT, "assertion": assertion})


def load_private_key(key: str) -> str:
    """A PEM string as is, else the path of a PEM file."""
    return key if "-----BEGIN" in key else Path(key).read_text()


def revoke(http: httpx.Client, app: OAuthApp, token: str) -> None:
    """Revoke a token (a refresh token takes its access tokens with it). A token Salesforce
    calls invalid (400 `invalid_token` / `unsupported_token_type`) is revoked already."""
    response = _post(http, app.endpoint("revoke"), {"token": token})
    if response.status_code == 200:
        return
    code = _oauth_error(response)
    if response.status_code == 400 and code in ("invalid_token", "unsupported_token_type"):
        return
    raise SalesforceAuthError(
        "token revocation refused", error_code=code, status=response.status_code
    )


def check_login_host(http: httpx.Client, app: OAuthApp) -> None:
    """One request to the login host, so TLS or network trouble shows before a person logs
    in; any HTTP answer will do."""
    _send(http, "HEAD", app.endpoint("authorize"))


def _with_secret(form: dict[str, str], app: OAuthApp) -> dict[str, str]:
    return form | {"client_secret": app.client_secret} if app.client_secret else form


def _grant(http: httpx.Client, app: OAuthApp, form: dict[str, str]) -> Tokens:
    response = _post(http, app.endpoint("token"), form)
    if response.status_code != 200:
        code = _oauth_error(response)
        message = f"token request refused ({form['grant_type'].rsplit(':', 1)[-1]})"
        if code == "invalid_grant":
            raise ReauthorizationRequired(message, error_code=code, status=response.status_code)
        raise SalesforceAuthError(message, error_code=code, status=response.status_code)
    body = response.json()
    issued = body.get("issued_at")
    org_id, user_id = identity_ids(body.get("id"))
    return Tokens(
        access_token=body["access_token"],
        instance_url=app.hosts.instance_url(body["instance_url"]),
        refresh_token=body.get("refresh_token"),
        issued_at_ms=int(issued) if issued else None,
        org_id=org_id,
        user_id=user_id,
    )


_IDENTITY = re.compile(r"/id/([a-zA-Z0-9]{15,18})/([a-zA-Z0-9]{15,18})/?$")


def identity_ids(identity: object) -> tuple[str | None, str | None]:
    """The org id and user id of a token response's identity URL; (None, None) when it is
    missing or not of that shape."""
    match = _IDENTITY.search(identity) if isinstance(identity, str) else None
    return (match[1], match[2]) if match else (None, None)


def _post(http: httpx.Client, url: str, form: dict[str, str]) -> httpx.Response:
    return _send(http, "POST", url, data=form)


def _send(http: httpx.Client, method: str, url: str, **options: object) -> httpx.Response:
    try:
        response = http.request(method, url, **options)  # type: ignore[arg-type]
    except httpx.TransportError as err:
        raise tls_failure(err, url) or SalesforceUnavailable(
            f"login host unreachable ({type(err).__name__})"
        ) from err
    if response.status_code >= 500:
        raise SalesforceUnavailable("login host error", status=response.status_code)
    return response


def _oauth_error(response: httpx.Response) -> str | None:
    try:
        return str(response.json().get("error"))
    except (ValueError, AttributeError):
        return None


class SessionAuth:
    """Current tokens plus a way to renew them; base for the three ways of holding a session.

    `on_tokens` receives every new token set at once (rotated refresh tokens included) so the
    caller can persist it; `on_reauth_required` fires when only a human can fix the connection.
    """

    def __init__(
        self,
        app: OAuthApp,
        tokens: Tokens | None,
        on_tokens: Callable[[Tokens], None] | None = None,
        on_reauth_required: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.on_tokens = on_tokens
        self.on_reauth_required = on_reauth_required

    def renew(self, http: httpx.Client) -> Tokens:
        try:
            tokens = self._grant(http)
        except ReauthorizationRequired:
            if self.on_reauth_required:
                self.on_reauth_required()
            raise
        self.tokens = tokens
        if self.on_tokens:
            self.on_tokens(tokens)
        return tokens

    def _grant(self, http: httpx.Client) -> Tokens:
        raise SalesforceAuthError("the session expired and this connection cannot renew it")


class RefreshTokenAuth(SessionAuth):
    def _grant(self, http: httpx.Client) -> Tokens:
        if self.tokens is None or not self.tokens.refresh_token:
            raise ReauthorizationRequired("no refresh token: the connection must be re-authorised")
        return refresh_grant(http, self.app, self.tokens.refresh_token)


class JwtBearerAuth(SessionAuth):
    def __init__(
        self,
        app: OAuthApp,
        username: str,
        private_key: str,
        audience: str | None = None,
        **callbacks: Callable,
    ) -> None:
        super().__init__(app, None, **callbacks)
        self.username = username
        self.private_key = load_private_key(private_key)
        self.audience = audience

    def _grant(self, http: httpx.Client) -> Tokens:
        return jwt_grant(http, self.app, self.username, self.private_key, self.audience)
