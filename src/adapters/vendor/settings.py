"""What the vendor adapter needs to know: where the vendor is, its key, its limits."""

from __future__ import annotations

import attrs

MAX_PAGE_SIZE = 100  # the vendor clamps larger pages to this


@attrs.frozen
class VendorSettings:
    """`base_url` ends in `/api`; the adapter calls `{base_url}/crm/v1/...`."""

    base_url: str
    api_key: str = attrs.field(repr=False)
    rate_per_minute: int = 100  # calls per linked account; 0: no limit of our own
    page_size: int = attrs.field(default=MAX_PAGE_SIZE)
    timeout: float = 30.0  # per request
    max_retries: int = 3  # of a 5xx answer or a connection error
    backoff_initial: float = 0.5  # seconds before the first retry, doubled after each
    backoff_max: float = 10.0
    max_retry_after: float = 90.0  # a longer Retry-After is not slept: vendor_rate_limited
    max_throttled: int = 5  # 429 answers in a row for one call before giving up
    max_body_bytes: int = 64 * 2**20  # a longer answer is refused, not read into memory

    @page_size.validator
    def _check_page_size(self, attribute: attrs.Attribute, value: int) -> None:
        if not 1 <= value <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")

    @property
    def api_root(self) -> str:
        return f"{self.base_url.rstrip('/')}/crm/v1"
