"""The vendor client through MockTransport: credentials, throttling, retries, error mapping."""

from __future__ import annotations

import httpx
import pytest

from sfsync.adapters.prometheus_metrics import PrometheusMetrics
from sfsync.adapters.vendor.client import VendorClient, call_kind
from sfsync.adapters.vendor.settings import VendorSettings
from sfsync.domain.errors import PermanentFailure, TransientFailure
from sfsync.domain.ports import ContactQuery
from tests.unit.vendor.scripted_vendor import (
    API_KEY,
    TOKEN,
    FakeClock,
    FakeVendor,
    client,
    contacts,
    pages,
    row,
)

OK = httpx.Response(200, json={"next": None, "previous": None, "results": []})


def throttled(seconds: str) -> httpx.Response:
    return httpx.Response(
        429,
        json={"detail": f"Request was throttled. Expected available in {seconds} seconds."},
        headers={"Retry-After": seconds},
    )


def test_every_call_carries_the_api_key_and_the_account_token() -> None:
    vendor = FakeVendor(
        {
            "/contacts": pages([row(f"003{i:015d}") for i in range(5)], 2),
            "/contacts/remote-field-classes": OK,
            "/sync-status": OK,
            "/sync-status/resync": OK,
            "/delete-account": httpx.Response(200),
        }
    )
    reader = contacts(vendor)
    list(reader.read_contacts(ContactQuery(())).batches)
    reader.status()
    reader.resync()
    reader.unlink()
    assert len(vendor.requests) == 1 + 3 + 3  # describe, 3 pages, status, resync, unlink
    for request in vendor.requests:
        assert request.headers["Authorization"] == f"Bearer {API_KEY}"
        assert request.headers["X-Account-Token"] == TOKEN
        assert str(request.url).startswith("https://vendor.example/api/crm/v1/")


def test_a_429_is_slept_out_for_its_retry_after_and_counted() -> None:
    vendor = FakeVendor({"/sync-status": [throttled("7"), throttled("3"), OK]})
    clock = FakeClock()
    vendor_client = client(vendor, clock)
    vendor_client.json("GET", "sync-status")
    assert clock.slept == [7.0, 3.0]
    assert (vendor_client.calls, vendor_client.waited) == (3, 10.0)


def test_the_rate_limit_wait_is_counted_with_the_429_waits() -> None:
    vendor = FakeVendor({"/sync-status": OK})
    clock = FakeClock()
    reader = contacts(vendor, clock, rate_per_minute=2)  # two calls in any minute
    for _ in range(3):
        reader.status()
    stats = reader.call_stats()
    assert stats.calls == 3 and stats.waited_seconds == pytest.approx(60.0)
    assert clock.slept == pytest.approx([60.0])


def test_a_retry_after_beyond_the_longest_wait_is_a_transient_rate_limit() -> None:
    vendor = FakeVendor({"/contacts": throttled("600")})
    clock = FakeClock()
    with pytest.raises(TransientFailure) as err:
        client(vendor, clock, max_retry_after=90).json("GET", "contacts")
    assert err.value.code == "vendor_rate_limited"
    assert clock.slept == [] and len(vendor.requests) == 1


def test_429s_in_a_row_give_up_after_the_bounded_attempts() -> None:
    vendor = FakeVendor({"/contacts": throttled("1")})
    clock = FakeClock()
    with pytest.raises(TransientFailure) as err:
        client(vendor, clock, max_throttled=3).json("GET", "contacts")
    assert err.value.code == "vendor_rate_limited"
    assert clock.slept == [1.0, 1.0, 1.0] and len(vendor.requests) == 4


def test_5xx_answers_are_retried_with_backoff_then_a_transient_failure() -> None:
    unavailable = httpx.Response(503, json={"detail": "Injected fault."})
    vendor = FakeVendor({"/contacts": unavailable})
    clock = FakeClock()
    vendor_client = client(vendor, clock, max_retries=3, backoff_initial=0.5, backoff_max=1.5)
    with pytest.raises(TransientFailure) as err:
        vendor_client.json("GET", "contacts")
    assert err.value.code == "vendor_unavailable"
    assert len(vendor.requests) == 4
    assert clock.slept == [0.5, 1.0, 1.5]
    assert vendor_client.waited == 0.0  # a backoff is not a rate-limit wait


def test_a_5xx_then_a_success_returns_the_answer() -> None:
    vendor = FakeVendor({"/sync-status": [httpx.Response(502), OK]})
    assert client(vendor).json("GET", "sync-status")["results"] == []
    assert len(vendor.requests) == 2


def test_connection_errors_are_retried_then_a_transient_failure() -> None:
    attempts: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ConnectError("connection refused", request=request)

    vendor = FakeVendor({"/contacts": refuse})
    with pytest.raises(TransientFailure) as err:
        client(vendor, max_retries=2).json("GET", "contacts")
    assert err.value.code == "vendor_unavailable" and len(attempts) == 3


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (401, {"detail": "Invalid account token."}, "vendor_link_invalid"),
        (403, {"detail": "Not on your plan."}, "vendor_forbidden"),
        (404, {"detail": "Invalid cursor"}, "vendor_refused"),
    ],
)
def test_refusals_are_permanent_failures_with_a_code(status, body, code) -> None:
    vendor = FakeVendor({"/contacts": httpx.Response(status, json=body)})
    with pytest.raises(PermanentFailure) as err:
        client(vendor).json("GET", "contacts")
    assert err.value.code == code
    assert len(vendor.requests) == 1  # never retried
    assert body["detail"] not in str(err.value)


def test_a_401_says_how_to_relink() -> None:
    vendor = FakeVendor({"/contacts": httpx.Response(401, json={"detail": "Invalid API key."})})
    with pytest.raises(PermanentFailure) as err:
        client(vendor).json("GET", "contacts")
    assert "sfsync connect ACCOUNT --vendor" in str(err.value)
    assert API_KEY not in str(err.value) and TOKEN not in str(err.value)


def test_a_400_names_the_parameters_but_never_their_values() -> None:
    body = {
        "modified_after": ["Enter a valid date/time."],
        "email_addresses": ["secret.person@example.org is not valid"],
        "bad key!": ["x"],
    }
    vendor = FakeVendor({"/contacts": httpx.Response(400, json=body)})
    with pytest.raises(PermanentFailure) as err:
        client(vendor).json("GET", "contacts", {"email_addresses": "secret.person@example.org"})
    assert err.value.code == "vendor_bad_request"
    message = str(err.value)
    assert "email_addresses" in message and "modified_after" in message
    assert "secret.person" not in message and "bad key" not in message


def test_call_kinds_are_templates_without_ids() -> None:
    assert call_kind("get", "contacts") == "GET vendor/contacts"
    assert call_kind("GET", "contacts/0b7d-uuid") == "GET vendor/contacts/{id}"
    assert (
        call_kind("GET", "contacts/remote-field-classes")
        == "GET vendor/contacts/remote-field-classes"
    )
    assert call_kind("POST", "sync-status/resync") == "POST vendor/sync-status/resync"


def test_on_call_hears_each_call_kind() -> None:
    vendor = FakeVendor({"/sync-status": [throttled("1"), OK]})
    kinds: list[str] = []
    clock = FakeClock()
    vendor_client = VendorClient(
        VendorSettings("https://vendor.example/api", API_KEY, rate_per_minute=0),
        TOKEN,
        httpx.Client(transport=httpx.MockTransport(vendor.handle)),
        on_call=kinds.append,
        sleep=clock.sleep,
        clock=clock,
    )
    vendor_client.json("GET", "sync-status")
    assert kinds == ["GET vendor/sync-status", "GET vendor/sync-status"]


def test_the_prometheus_metric_keeps_vendor_call_kinds() -> None:
    metrics = PrometheusMetrics()
    metrics.salesforce_call(call_kind("GET", "contacts/remote-field-classes"))
    text = metrics.exposition().decode()
    assert 'kind="GET vendor/contacts/remote-field-classes"' in text
