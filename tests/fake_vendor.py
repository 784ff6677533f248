"""FakeVendor: a unified-CRM vendor's copy of an org in memory (vendor mode), for service
and CLI-less tests. Reads are FakeSalesforce's; it knows which account tokens are linked."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sfsync.domain.errors import PermanentFailure, TransientFailure
from sfsync.domain.ports import CacheStatus, Capabilities
from tests.fake_salesforce import FakeSalesforce

LAST_SYNC = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


class FakeVendor(FakeSalesforce):
    """Arrange `tokens` (the linked accounts' tokens it accepts) and `down` (every call
    fails as an outage would); `token` is the one the open reader was given."""

    def __init__(self, tokens: Iterable[str] = ("vendor-token",)) -> None:
        super().__init__()
        self.tokens = set(tokens)
        self.down = False
        self.token: str | None = None
        self.status_calls = 0
        self.unlinked: list[str] = []

    def capabilities(self) -> Capabilities:
        return Capabilities(cache=self, filters_on_fields=False, reads_named_fields=False)

    def status(self) -> CacheStatus:
        self._answer(self.token)
        self.status_calls += 1
        return CacheStatus(LAST_SYNC)

    def resync(self) -> str | None:
        self._answer(self.token)
        return None

    def unlink(self, token: str) -> None:
        """The vendor's unlink call: the token stops working."""
        self._answer(token)
        self.tokens.discard(token)
        self.unlinked.append(token)

    def _answer(self, token: str | None) -> None:
        if self.down:
            raise TransientFailure("the vendor answered 503", code="vendor_unavailable")
        if token not in self.tokens:
            raise PermanentFailure("the vendor refused the account token", code="vendor_auth")
