"""The Salesforce connection of each account; tokens are encrypted (and bound to the account
and column) before they are written."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sfsync.adapters.postgres.crypto import TokenCipher
from sfsync.adapters.postgres.session import Session
from sfsync.domain.errors import PermanentFailure
from sfsync.domain.model import AccountId
from sfsync.domain.ports import ApiUsage, ConnectionSummary, SalesforceConnection


class PsycopgConnections:
    def __init__(self, session: Session, cipher: TokenCipher) -> None:
        self._session = session
        self._cipher = cipher

    def get(self, account_id: AccountId) -> SalesforceConnection | None:
        row = self._row(account_id)
        if row is None:
            return None
        instance_url, login_url, access_enc, refresh_enc, issued_at, needs_reauth = row[:6]
        access, refresh = self._open(account_id, access_enc, refresh_enc)
        org_id, user_id, connected_at = row[6:9]
        return SalesforceConnection(
            account_id=account_id,
            instance_url=instance_url,
            login_url=login_url,
            access_token=access,
            refresh_token=refresh,
            issued_at=issued_at,
            needs_reauth=needs_reauth,
            org_id=org_id,
            user_id=user_id,
            connected_at=connected_at,
        )

    def summary(self, account_id: AccountId) -> ConnectionSummary | None:
        """Opens the tokens only to say whether it can; they never leave this method."""
        row = self._row(account_id)
        if row is None:
            return None
        instance_url, login_url, access_enc, refresh_enc, issued_at, needs_reauth = row[:6]
        try:
            self._open(account_id, access_enc, refresh_enc)
            readable = True
        except PermanentFailure:  # token_decryption_failed: no key opens them
            readable = False
        org_id, user_id, connected_at, used, limit, seen_at = row[6:]
        return ConnectionSummary(
            instance_url,
            login_url,
            issued_at,
            needs_reauth,
            readable,
            org_id=org_id,
            user_id=user_id,
            connected_at=connected_at,
            api_usage=None if used is None else ApiUsage(used, limit),
            api_seen_at=seen_at,
        )

    def _row(self, account_id: AccountId) -> tuple[Any, ...] | None:
        return self._session.fetchone(
            "SELECT instance_url, login_url, access_token_enc, refresh_token_enc, issued_at,"
            " needs_reauth, org_id, user_id, connected_at, api_used, api_limit, api_seen_at"
            " FROM salesforce_connections WHERE account_id = %s",
            (account_id,),
        )

    def _open(
        self, account_id: AccountId, access_enc: bytes, refresh_enc: bytes | None
    ) -> tuple[str, str | None]:
        access = self._cipher.decrypt(access_enc, account_id=account_id, kind="access")
        if refresh_enc is None:
            return access, None
        return access, self._cipher.decrypt(refresh_enc, account_id=account_id, kind="refresh")

    def save(self, connection: SalesforceConnection) -> None:
        account_id, refresh = connection.account_id, connection.refresh_token
        self._session.write(
            "INSERT INTO salesforce_connections (account_id, instance_url, login_url,"
            " access_token_enc, refresh_token_enc, issued_at, needs_reauth, org_id, user_id,"
            " connected_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (account_id) DO UPDATE SET instance_url = EXCLUDED.instance_url,"
            " login_url = EXCLUDED.login_url, access_token_enc = EXCLUDED.access_token_enc,"
            " refresh_token_enc = EXCLUDED.refresh_token_enc, issued_at = EXCLUDED.issued_at,"
            " needs_reauth = EXCLUDED.needs_reauth,"
            " org_id = coalesce(EXCLUDED.org_id, salesforce_connections.org_id),"
            " user_id = coalesce(EXCLUDED.user_id, salesforce_connections.user_id),"
            " connected_at = coalesce(EXCLUDED.connected_at, salesforce_connections.connected_at),"
            " updated_at = now()",
            (
                connection.account_id,
                connection.instance_url,
                connection.login_url,
                self._cipher.encrypt(connection.access_token, account_id=account_id, kind="access"),
                (
                    self._cipher.encrypt(refresh, account_id=account_id, kind="refresh")
                    if refresh is not None
                    else None
                ),
                connection.issued_at,
                connection.needs_reauth,
                connection.org_id,
                connection.user_id,
                connection.connected_at,
            ),
        )

    def note_usage(self, account_id: AccountId, usage: ApiUsage, seen_at: datetime) -> None:
        self._session.write(
            "UPDATE salesforce_connections SET api_used = %s, api_limit = %s, api_seen_at = %s"
            " WHERE account_id = %s",
            (usage.used, usage.limit, seen_at, account_id),
        )

    def mark_needs_reauth(self, account_id: AccountId) -> None:
        """Flag the connection for a human to reconnect; no-op without a connection."""
        self._session.write(
            "UPDATE salesforce_connections SET needs_reauth = true, updated_at = now()"
            " WHERE account_id = %s",
            (account_id,),
        )

    def delete(self, account_id: AccountId) -> bool:
        """Forget the connection and its tokens; False when there was none."""
        deleted = self._session.execute(
            "DELETE FROM salesforce_connections WHERE account_id = %s", (account_id,)
        )
        return deleted > 0
