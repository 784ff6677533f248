"""Encryption of OAuth tokens at rest with Fernet; several keys allow rotation.

The first key encrypts, every key decrypts (`MultiFernet`): to rotate, put a new key first
and keep the old ones until every row has been saved again.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from sfsync.domain.errors import PermanentFailure


class TokenCipher:
    """Encrypts and decrypts token strings; errors never include a key or a token."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if isinstance(keys, str | bytes) or not keys:
            raise PermanentFailure(
                "at least one token encryption key is required (a list of Fernet keys)",
                code="invalid_encryption_key",
            )
        self._fernet = MultiFernet([_fernet(key, position) for position, key in enumerate(keys)])

    @staticmethod
    def generate_key() -> str:
        """A new random key, in the form the configuration expects."""
        return Fernet.generate_key().decode("ascii")

    def encrypt(self, token: str) -> bytes:
        return self._fernet.encrypt(token.encode("utf-8"))

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(ciphertext)).decode("utf-8")
        except InvalidToken as err:
            raise PermanentFailure(
                "stored token cannot be decrypted with the configured keys"
                " (was the encryption key changed without keeping the old one?)",
                code="token_decryption_failed",
            ) from err


def _fernet(key: str | bytes, position: int) -> Fernet:
    try:
        return Fernet(key)
    except (ValueError, TypeError) as err:
        raise PermanentFailure(
            f"token encryption key #{position + 1} is not a valid Fernet key"
            " (32 url-safe base64-encoded bytes)",
            code="invalid_encryption_key",
        ) from err
