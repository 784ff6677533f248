"""Encryption of tokens at rest (OAuth tokens, vendor account tokens) with Fernet; several
keys allow rotation.

The first key encrypts, every key decrypts (`MultiFernet`): to rotate, put a new key first,
run `sfsync rotate-keys`, then drop the old key.

Each ciphertext is bound to its row: Fernet has no associated data, so the sealed plaintext
carries the account id and which token it is (`access`, `refresh` or `vendor`) behind a
version prefix, and decryption checks both. A ciphertext copied to another account, or an
access token swapped with a refresh token, fails with `token_decryption_failed`. OAuth rows
written before binding existed (the bare token) still decrypt; `rotate-keys` rewrites them
bound. Vendor tokens were always bound: a bare one is refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from sfsync.domain.errors import PermanentFailure

# NUL never occurs in a Salesforce token, so no unbound plaintext starts with this prefix.
SEALED_V2 = b"\x00sfsync-token-v2\x00"
KINDS = ("access", "refresh", "vendor")
UNBOUND_KINDS = ("access", "refresh")  # kinds stored before binding existed


class TokenCipher:
    """Seals and opens token strings; errors never include a key or a token."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if isinstance(keys, str | bytes) or not keys:
            raise PermanentFailure(
                "at least one token encryption key is required (a list of Fernet keys)",
                code="invalid_encryption_key",
            )
        fernets = [_fernet(key, position) for position, key in enumerate(keys)]
        self._first = fernets[0]
        self._fernet = MultiFernet(fernets)

    @staticmethod
    def generate_key() -> str:
        """A new random key, in the form the configuration expects."""
        return Fernet.generate_key().decode("ascii")

    def encrypt(self, token: str, *, account_id: str, kind: str) -> bytes:
        """`token` sealed with the first key, bound to `account_id` and `kind`."""
        _check_kind(kind)
        payload = {"account": account_id, "kind": kind, "token": token}
        return self._first.encrypt(SEALED_V2 + json.dumps(payload).encode("utf-8"))

    def decrypt(self, ciphertext: bytes, *, account_id: str, kind: str) -> str:
        """The token, if some key opens it and it is bound to this account and kind."""
        try:
            plain = self._fernet.decrypt(bytes(ciphertext))
        except InvalidToken as err:
            raise _undecryptable(
                "stored token cannot be decrypted with the configured keys"
                " (was the encryption key changed without keeping the old one?)"
            ) from err
        return _unseal(plain, account_id, kind)

    def rotate(self, ciphertext: bytes, *, account_id: str, kind: str) -> bytes | None:
        """A new ciphertext under the first key, bound; None when it is one already.

        Not `MultiFernet.rotate`: an unbound row's plaintext must change, not only its key.
        """
        try:
            plain = self._first.decrypt(bytes(ciphertext))
        except InvalidToken:
            token = self.decrypt(ciphertext, account_id=account_id, kind=kind)
            return self.encrypt(token, account_id=account_id, kind=kind)
        token = _unseal(plain, account_id, kind)
        if plain.startswith(SEALED_V2):
            return None
        return self.encrypt(token, account_id=account_id, kind=kind)


def _unseal(plain: bytes, account_id: str, kind: str) -> str:
    _check_kind(kind)
    try:
        if not plain.startswith(SEALED_V2):
            if kind not in UNBOUND_KINDS:
                raise ValueError("a bare token where only a bound one was ever written")
            return plain.decode("utf-8")  # written before binding: rotate-keys upgrades it
        payload = json.loads(plain[len(SEALED_V2) :])
        bound = (payload["account"], payload["kind"])
        token = payload["token"]
    except (ValueError, KeyError, TypeError) as err:
        raise _undecryptable("stored token is not in a known format") from err
    if bound != (account_id, kind) or not isinstance(token, str):
        raise _undecryptable(
            f"stored {kind} token belongs to another account or column (was the row copied?)"
        )
    return token


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"token kind must be one of {KINDS}")


def _undecryptable(message: str) -> PermanentFailure:
    return PermanentFailure(message, code="token_decryption_failed")


def _fernet(key: str | bytes, position: int) -> Fernet:
    try:
        return Fernet(key)
    except (ValueError, TypeError) as err:
        raise PermanentFailure(
            f"token encryption key #{position + 1} is not a valid Fernet key"
            " (32 url-safe base64-encoded bytes)",
            code="invalid_encryption_key",
        ) from err
