"""OAuth clients, authorization codes, access and refresh tokens."""

from __future__ import annotations

import secrets
import time

from attrs import define, field

from sfsync_emulator.ids import ORG, make_id

ORG_ID = make_id(ORG, 1)
USERNAME = "emulator@sfsync.local"


@define
class Client:
    client_id: str
    client_secret: str
    redirect_uris: list[str] = field(factory=list)
    cert_pem: str | None = None  # PEM certificate or public key for jwt-bearer


@define
class Code:
    client_id: str
    redirect_uri: str
    challenge: str | None
    scope: str
    expires_at: float


@define
class Access:
    client_id: str
    expires_at: float
    refresh: str | None


@define
class Auth:
    clients: dict[str, Client] = field(factory=dict)
    codes: dict[str, Code] = field(factory=dict)
    access: dict[str, Access] = field(factory=dict)
    refresh: dict[str, str] = field(factory=dict)  # refresh token -> client_id
    session_seconds: int = 7200
    rotate: bool = False
    deny: bool = False

    def mint(self, client_id: str, refresh: str | None = None, lifetime: int | None = None) -> str:
        token = f"{ORG_ID[:15]}!AQ{secrets.token_urlsafe(48)}"
        seconds = self.session_seconds if lifetime is None else lifetime
        self.access[token] = Access(client_id, time.time() + seconds, refresh)
        return token

    def new_refresh(self, client_id: str) -> str:
        token = f"5Aep{secrets.token_urlsafe(60)}"
        self.refresh[token] = client_id
        return token

    def new_code(self, client_id: str, redirect_uri: str, challenge: str | None, scope: str) -> str:
        code = f"aPrx{secrets.token_urlsafe(40)}"
        self.codes[code] = Code(client_id, redirect_uri, challenge, scope, time.time() + 900)
        return code

    def valid(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("bearer", "oauth"):
            return False
        entry = self.access.get(token.strip())
        return entry is not None and entry.expires_at > time.time()

    def expire_all(self) -> None:
        for entry in self.access.values():
            entry.expires_at = 0.0

    def revoke_refresh_tokens(self) -> None:
        self.refresh.clear()

    def revoke(self, token: str) -> bool:
        """Revoke an access token, or a refresh token and every token derived from it."""
        if self.access.pop(token, None) is not None:
            return True
        if self.refresh.pop(token, None) is None:
            return False
        for key in [k for k, a in self.access.items() if a.refresh == token]:
            del self.access[key]
        return True
