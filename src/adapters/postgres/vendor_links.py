"""The vendor link of each account in vendor mode; its account token is encrypted (and bound
to the account) before it is written, as a connection's tokens are."""

from __future__ import annotations

from typing import Any

from sfsync.adapters.postgres.crypto import TokenCipher
from sfsync.adapters.postgres.session import Session
from sfsync.domain.errors import PermanentFailure
from sfsync.domain.model import AccountId
from sfsync.domain.ports import VendorLink, VendorLinkSummary

KIND = "vendor"  # what the ciphertext is bound to, with the account id


class PsycopgVendorLinks:
    def __init__(self, session: Session, cipher: TokenCipher) -> None:
        self._session = session
        self._cipher = cipher

    def get(self, account_id: AccountId) -> VendorLink | None:
        row = self._row(account_id)
        if row is None:
            return None
        token = self._cipher.decrypt(row[0], account_id=account_id, kind=KIND)
        return VendorLink(account_id, token, row[1])

    def summary(self, account_id: AccountId) -> VendorLinkSummary | None:
        """Opens the token only to say whether it can; it never leaves this method."""
        row = self._row(account_id)
        if row is None:
            return None
        try:
            self._cipher.decrypt(row[0], account_id=account_id, kind=KIND)
            readable = True
        except PermanentFailure:  # token_decryption_failed: no key opens it
            readable = False
        return VendorLinkSummary(row[1], readable)

    def _row(self, account_id: AccountId) -> tuple[Any, ...] | None:
        return self._session.fetchone(
            "SELECT account_token_enc, linked_at FROM vendor_links WHERE account_id = %s",
            (account_id,),
        )

    def save(self, link: VendorLink) -> None:
        sealed = self._cipher.encrypt(link.account_token, account_id=link.account_id, kind=KIND)
        self._session.write(
            "INSERT INTO vendor_links (account_id, account_token_enc, linked_at)"
            " VALUES (%s, %s, %s) ON CONFLICT (account_id) DO UPDATE SET"
            " account_token_enc = EXCLUDED.account_token_enc, linked_at = EXCLUDED.linked_at,"
            " updated_at = now()",
            (link.account_id, sealed, link.linked_at),
        )

    def delete(self, account_id: AccountId) -> bool:
        """Forget the link and its token; False when there was none."""
        deleted = self._session.execute(
            "DELETE FROM vendor_links WHERE account_id = %s", (account_id,)
        )
        return deleted > 0
