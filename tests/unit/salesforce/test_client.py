"""Transport policy through MockTransport: error mapping, retries, session renewal, quota."""

from __future__ import annotations

import httpx
import pytest

from sfsync.adapters.salesforce.errors import (
    ReauthorizationRequired,
    SalesforceAuthError,
    SalesforceQuotaExceeded,
    SalesforceRequestError,
    SalesforceUnavailable,
)
from sfsync.domain.errors import PermanentFailure, QuotaExhausted, TransientFailure
from sfsync.domain.ports import ApiUsage
from tests.unit.salesforce.recorded import Org, gateway, session_expired, sf_error

EMPTY = {"totalSize": 0, "done": True, "records": []}


def token_endpoint(org: Org, *responses: httpx.Response) -> None:
    org.script("POST", "/services/oauth2/token", *responses)


def fresh_token(access: str = "a2", refresh: str | None = None) -> httpx.Response:
    body = {
        "access_token": access,
        "instance_url": "https://org.example.my.salesforce.com",
        "issued_at": "1700000000000",
        "token_type": "Bearer",
    }
    return httpx.Response(200, json=body | ({"refresh_token": refresh} if refresh else {}))


class TestErrorMapping:
    @pytest.mark.parametrize(
        ("response", "family", "kind"),
        [
            (sf_error(400, "MALFORMED_QUERY"), PermanentFailure, SalesforceRequestError),
            (sf_error(404, "NOT_FOUND"), PermanentFailure, SalesforceRequestError),
            (
                sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
                QuotaExhausted,
                SalesforceQuotaExceeded,
            ),
            (sf_error(503, "SERVER_UNAVAILABLE"), TransientFailure, SalesforceUnavailable),
            (sf_error(400, "UNABLE_TO_LOCK_ROW"), TransientFailure, SalesforceUnavailable),
            (httpx.Response(420, text="edge"), TransientFailure, SalesforceUnavailable),
        ],
    )
    def test_error_responses_become_typed_domain_failures(self, response, family, kind) -> None:
        org = Org()
        org.script("GET", "/query", response)
        with pytest.raises(kind) as err:
            gateway(org).find_contact_ids_by_email("x@example.com")
        assert isinstance(err.value, family)

    def test_salesforce_code_status_and_fields_are_kept_but_never_its_text(self) -> None:
        org = Org()
        text = "duplicate value found: Email duplicates Ada Lovelace +44 20 7946 0958 ada@x.org"
        response = httpx.Response(
            400, json=[{"message": text, "errorCode": "DUPLICATE_VALUE", "fields": ["Email"]}]
        )
        org.script("GET", "/query", response)
        with pytest.raises(SalesforceRequestError) as err:
            gateway(org).find_contact_ids_by_email("ada@x.org")
        error = err.value
        assert (error.error_code, error.status) == ("DUPLICATE_VALUE", 400)
        assert error.fields == ("Email",)
        shown = f"{error} {error!r} {error.message} {error.args}"
        assert "GET query (HTTP 400)" in str(error) and "Email" in str(error)
        for value in ("Ada", "Lovelace", "7946", "ada@", "duplicate value found"):
            assert value not in shown

    @pytest.mark.parametrize(
        "body",
        [
            [{"message": "x", "errorCode": "ada@example.com Ada", "fields": ["Ada Lovelace"]}],
            [{"message": "x", "errorCode": "A" * 10_000}],
            [{"message": "x", "errorCode": ["Ada"], "fields": "Ada"}],
            {"error": "invalid_grant", "error_description": "Ada Lovelace"},
            "Ada Lovelace",
        ],
    )
    def test_codes_and_fields_that_do_not_look_like_ones_are_dropped(self, body) -> None:
        org = Org()
        org.script("GET", "/query", httpx.Response(400, json=body))
        with pytest.raises(SalesforceRequestError) as err:
            gateway(org).find_contact_ids_by_email("x@example.com")
        assert "Ada" not in str(err.value) and len(str(err.value)) < 200


class TestRetries:
    @pytest.mark.parametrize(
        "fault",
        [
            sf_error(503, "SERVER_UNAVAILABLE"),
            sf_error(400, "UNABLE_TO_LOCK_ROW"),
            httpx.Response(429),
            httpx.Response(502),
        ],
    )
    def test_transient_fault_is_retried_then_succeeds(self, fault) -> None:
        org = Org()
        org.script("GET", "/query", fault, httpx.Response(200, json=EMPTY))
        sf = gateway(org)
        assert sf.find_contact_ids_by_email("x@example.com") == []
        assert sf.calls == 2

    def test_timeouts_are_retried_a_bounded_number_of_times(self) -> None:
        org = Org()

        def timeout(request: httpx.Request) -> httpx.Response:
            raise httpx.ReadTimeout("slow", request=request)

        org.route("GET", "/query", timeout)
        sf = gateway(org)
        with pytest.raises(SalesforceUnavailable):
            sf.find_contact_ids_by_email("x@example.com")
        assert sf.calls == 3  # FAST_RETRY.attempts

    def test_quota_exhaustion_is_not_retried(self) -> None:
        org = Org()
        org.script("GET", "/query", sf_error(403, "REQUEST_LIMIT_EXCEEDED"))
        sf = gateway(org)
        with pytest.raises(SalesforceQuotaExceeded):
            sf.find_contact_ids_by_email("x@example.com")
        assert sf.calls == 1


class TestQuotaShare:
    def test_usage_is_read_from_every_response(self) -> None:
        org = Org()
        org.route(
            "GET",
            "/query",
            lambda r: httpx.Response(
                200, json=EMPTY, headers={"Sforce-Limit-Info": "api-usage=25/15000"}
            ),
        )
        sf = gateway(org)
        sf.find_contact_ids_by_email("x@example.com")
        assert sf.api_usage() == ApiUsage(25, 15000)

    def test_calls_stop_once_usage_exceeds_the_configured_share(self) -> None:
        org = Org()
        org.route(
            "GET",
            "/query",
            lambda r: httpx.Response(
                200, json=EMPTY, headers={"Sforce-Limit-Info": "api-usage=501/1000"}
            ),
        )
        sf = gateway(org, max_share=0.5)
        sf.find_contact_ids_by_email("x@example.com")
        with pytest.raises(SalesforceQuotaExceeded):
            sf.find_contact_ids_by_email("x@example.com")
        assert sf.calls == 1


class TestSessionRenewal:
    def test_expired_session_is_refreshed_once_and_the_call_repeated(self) -> None:
        org = Org()
        org.script("GET", "/query", session_expired(), httpx.Response(200, json=EMPTY))
        token_endpoint(org, fresh_token("a2"))
        seen = []
        sf = gateway(org, on_tokens=seen.append)
        assert sf.find_contact_ids_by_email("x@example.com") == []
        retried = org.requests[-1]
        assert retried.headers["Authorization"] == "Bearer a2"
        assert seen[0].access_token == "a2" and seen[0].refresh_token == "r1"

    def test_rotated_refresh_token_is_handed_to_the_callback(self) -> None:
        org = Org()
        org.script("GET", "/query", session_expired(), httpx.Response(200, json=EMPTY))
        token_endpoint(org, fresh_token("a2", refresh="r2"))
        seen = []
        gateway(org, on_tokens=seen.append).find_contact_ids_by_email("x@example.com")
        assert [t.refresh_token for t in seen] == ["r2"]
        form = httpx.QueryParams(org.requests[1].content.decode())
        assert form["grant_type"] == "refresh_token" and form["refresh_token"] == "r1"

    def test_revoked_refresh_token_asks_for_reauthorisation(self) -> None:
        org = Org()
        org.script("GET", "/query", session_expired())
        token_endpoint(
            org,
            httpx.Response(
                400,
                json={
                    "error": "invalid_grant",
                    "error_description": "expired access/refresh token",
                },
            ),
        )
        fired = []
        with pytest.raises(ReauthorizationRequired) as err:
            gateway(org, on_reauth_required=lambda: fired.append(True)).find_contact_ids_by_email(
                "x@example.com"
            )
        assert fired == [True]
        assert isinstance(err.value, SalesforceAuthError)
        assert len(org.requests) == 2  # no retry after invalid_grant

    def test_second_401_after_renewal_is_an_auth_error(self) -> None:
        org = Org()
        org.script("GET", "/query", session_expired())
        token_endpoint(org, fresh_token())
        with pytest.raises(SalesforceAuthError):
            gateway(org).find_contact_ids_by_email("x@example.com")

    def test_without_refresh_token_expiry_asks_for_reauthorisation(self) -> None:
        org = Org()
        org.script("GET", "/query", session_expired())
        with pytest.raises(ReauthorizationRequired):
            gateway(org, refresh_token=None).find_contact_ids_by_email("x@example.com")

    def test_tokens_never_appear_in_error_text(self) -> None:
        org = Org()
        org.script("GET", "/query", session_expired())
        token_endpoint(org, httpx.Response(400, json={"error": "invalid_client"}))
        with pytest.raises(SalesforceAuthError) as err:
            gateway(org).find_contact_ids_by_email("x@example.com")
        assert "r1" not in str(err.value) and "a1" not in repr(err.value.args)
