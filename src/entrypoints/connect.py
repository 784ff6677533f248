"""Connecting an account to Salesforce (the OAuth web-server flow with PKCE), and back.

`sfsync connect` sends a person to Salesforce's login page and catches the redirect on a
local callback server (`wait_for_callback`); the demo answers the emulator's authorize page
without a browser. `sfsync disconnect` revokes the tokens at Salesforce, then forgets them.
The commands themselves are in commands.py; they hand in the HTTP client and app.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import attrs
import httpx

from sfsync.adapters.salesforce.auth import (
    AuthorizationRequest,
    OAuthApp,
    authorize_url,
    exchange_code,
    revoke,
)
from sfsync.domain.errors import DomainError, PermanentFailure
from sfsync.domain.model import AccountId
from sfsync.domain.ports import SalesforceConnection, UnitOfWork
from sfsync.services.accounts import save_connection


def code_from_redirect(location: str, request: AuthorizationRequest) -> str:
    """The authorization code in Salesforce's redirect, after checking `state`."""
    query = parse_qs(urlsplit(location).query)
    if "error" in query:
        reason = query.get("error_description", query["error"])[0]
        raise PermanentFailure(f"Salesforce refused the connection: {reason}", code="access_denied")
    if query.get("state", [""])[0] != request.state:
        raise PermanentFailure("OAuth state mismatch: start the connection again", code="bad_state")
    code = query.get("code", [""])[0]
    if not code:
        raise PermanentFailure(
            "Salesforce's redirect carried no authorization code", code="no_code"
        )
    return code


def finish_connection(
    uow: UnitOfWork,
    http: httpx.Client,
    app: OAuthApp,
    account_id: AccountId,
    request: AuthorizationRequest,
    code: str,
) -> SalesforceConnection:
    tokens = exchange_code(http, app, code, request.code_verifier)
    connection = SalesforceConnection(
        account_id=account_id,
        instance_url=tokens.instance_url,
        login_url=app.login_url,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        issued_at=datetime.now(UTC),
        org_id=tokens.org_id,
        user_id=tokens.user_id,
        connected_at=datetime.now(UTC),
    )
    save_connection(uow, connection)
    return connection


def connect_without_browser(
    uow: UnitOfWork, http: httpx.Client, app: OAuthApp, account_id: AccountId
) -> SalesforceConnection:
    """The whole flow against a login page that approves at once (the emulator)."""
    request = authorize_url(app)
    response = http.get(request.url, follow_redirects=False)
    if response.status_code not in (302, 303) or "location" not in response.headers:
        raise PermanentFailure(
            f"the authorize page answered {response.status_code}, not a redirect",
            code="authorize_failed",
        )
    code = code_from_redirect(response.headers["location"], request)
    return finish_connection(uow, http, app, account_id, request, code)


@attrs.frozen
class Disconnected:
    revoked: bool  # False: forgotten here only (--forget), maybe still valid at Salesforce
    reason: str = ""  # why revocation did not happen


def disconnect_account(
    uow: Callable[[], UnitOfWork],
    http: httpx.Client,
    app_for: Callable[[str], OAuthApp],
    account_id: AccountId,
    *,
    forget: bool = False,
) -> Disconnected:
    """Revoke the refresh token, then the access token, then delete the connection.

    When revocation fails the tokens are kept (PermanentFailure `revoke_failed`), unless
    `forget`: then they are deleted all the same and the result says they were not revoked.
    """
    try:
        with uow() as reading:
            connection = reading.connections.get(account_id)
        if connection is not None:
            app = app_for(connection.login_url)
            for token in (connection.refresh_token, connection.access_token):
                if token:
                    revoke(http, app, token)
    except DomainError as err:
        if not forget:
            raise PermanentFailure(
                f"the tokens were not revoked at Salesforce ({err.code}: {err.message}) and"
                " are kept; try again, or pass --forget to delete them here anyway",
                code="revoke_failed",
            ) from err
        outcome = Disconnected(revoked=False, reason=f"{err.code}: {err.message}")
    else:
        if connection is None:
            raise PermanentFailure(
                f"account {account_id} has no Salesforce connection", code="not_connected"
            )
        outcome = Disconnected(revoked=True)
    with uow() as writing:
        writing.connections.delete(account_id)
        writing.commit()
    return outcome


def wait_for_callback(redirect_uri: str, timeout: float = 300) -> str:
    """Serve one request on the redirect URI's port; return the URL Salesforce sent us to."""
    parts = urlsplit(redirect_uri)
    seen: list[str] = []

    class Callback(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"sfsync: you can close this tab now.")

        def log_message(self, *args: object) -> None:  # keep codes out of the logs
            pass

    server = http.server.HTTPServer((parts.hostname or "127.0.0.1", parts.port or 80), Callback)
    server.timeout = timeout
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    thread.join(timeout)
    server.server_close()
    if not seen:
        raise PermanentFailure("no OAuth callback arrived in time", code="callback_timeout")
    return seen[0]
