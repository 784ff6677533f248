"""HttpxSalesforce against the local emulator over real HTTPS: safety, auth, faults, quota."""

from __future__ import annotations

import attrs
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from sfsync.adapters.salesforce.auth import (
    JwtBearerAuth,
    OAuthApp,
    authorize_url,
    exchange_code,
)
from sfsync.adapters.salesforce.client import ClientSettings, RetryPolicy
from sfsync.adapters.salesforce.errors import (
    ReauthorizationRequired,
    SalesforceFieldError,
    SalesforceQuotaExceeded,
    SalesforceUnavailable,
)
from sfsync.adapters.salesforce.gateway import HttpxSalesforce, SalesforceSettings
from sfsync.adapters.salesforce.hosts import SalesforceHosts
from sfsync.adapters.salesforce.reads import ReadSettings
from sfsync.domain.ports import ContactQuery, ContactUpdate
from sfsync_emulator.harness import Emulator
from tests.contract.test_salesforce_gateway import emulator_app, emulator_gateway

pytestmark = pytest.mark.emulator

FAST = RetryPolicy(attempts=4, timeout=10, wait_initial=0.01, wait_max=0.05, wait_jitter=0.01)
POLL = ReadSettings(bulk_threshold=1_000, page_records=1_000, poll_initial=0.01, poll_max=0.05)


@pytest.fixture(name="emu")
def _emu(sf_emulator: Emulator) -> Emulator:  # noqa: F811
    sf_emulator.admin.reset(contacts=3_000)
    return sf_emulator


def gateway(emu: Emulator, **kw) -> HttpxSalesforce:
    client = ClientSettings(retry=FAST, **kw.pop("client", {}))
    return emulator_gateway(emu, client=client, reads=kw.pop("reads", POLL), **kw)


def soql_received(emu: Emulator) -> list[str]:
    return [r["soql"] for r in emu.admin.requests() if r.get("soql")]


def count_rows(sf: HttpxSalesforce, query: ContactQuery) -> int:
    read = sf.read_contacts(query)
    return sum(len(b) for b in read.batches)


class TestInjection:
    def test_email_with_quote_stays_a_literal(self, emu: Emulator) -> None:
        cid = emu.admin.create_contact(Email="o'brien@example.com", LastName="O'Brien")
        sf = gateway(emu)
        assert sf.find_contact_ids_by_email("o'brien@example.com") == [cid]
        assert sf.find_contact_ids_by_email("x' OR Email != 'y") == []
        assert soql_received(emu)[-2:] == [
            "SELECT Id FROM Contact WHERE Email = 'o\\'brien@example.com'",
            "SELECT Id FROM Contact WHERE Email = 'x\\' OR Email != \\'y'",
        ]

    def test_hostile_field_name_never_reaches_salesforce(self, emu: Emulator) -> None:
        sf = gateway(emu)
        with pytest.raises(SalesforceFieldError):
            sf.read_contacts(ContactQuery(("Name FROM User --",)))
        assert soql_received(emu) == []


class TestSessionExpiry:
    def test_rest_paging_survives_every_token_expiring_mid_read(self, emu: Emulator) -> None:
        renewed = []
        sf = gateway(
            emu, reads=ReadSettings(bulk_threshold=100_000), auth={"on_tokens": renewed.append}
        )
        read = sf.read_contacts(ContactQuery(()))  # the first page, on the first token
        emu.admin.expire_tokens()  # before the next page is asked for
        total = sum(len(b) for b in read.batches)
        assert total == read.expected == 3_000
        assert len(renewed) == 1

    def test_bulk_job_survives_token_expiry_while_paging_results(self, emu: Emulator) -> None:
        renewed = []
        sf = gateway(emu, auth={"on_tokens": renewed.append})
        read = sf.read_contacts(ContactQuery(()))
        assert any("/jobs/query" in r["path"] for r in emu.admin.requests())
        batches = iter(read.batches)
        total = len(next(batches))
        emu.admin.expire_tokens()
        total += sum(len(b) for b in batches)
        assert total == read.expected == 3_000
        assert len(renewed) == 1

    def test_bulk_job_survives_token_expiry_while_polling(self, emu: Emulator) -> None:
        sf = gateway(emu)
        short_lived = emu.token(lifetime_seconds=1)
        sf.client.auth.tokens = attrs.evolve(sf.client.auth.tokens, access_token=short_lived)
        emu.admin.add_fault(latency_ms=1500, path="/jobs/query/", method="GET", count=1)
        assert count_rows(sf, ContactQuery(())) == 3_000
        polls = [
            r["status"]
            for r in emu.admin.requests()
            if "/jobs/query/" in r["path"] and not r["path"].endswith("/results")
        ]
        assert 401 in polls and polls[-1] == 200

    def test_revoked_refresh_token_asks_for_reauthorisation(self, emu: Emulator) -> None:
        fired = []
        sf = gateway(emu, auth={"on_reauth_required": lambda: fired.append(True)})
        emu.admin.revoke_refresh_tokens()
        emu.admin.expire_tokens()
        with pytest.raises(ReauthorizationRequired, match="re-?auth|refused"):
            sf.describe_contact()
        assert fired == [True]

    def test_rotated_refresh_token_is_reported(self, emu: Emulator) -> None:
        emu.admin.set_oauth(rotate_refresh_tokens=True)
        seen = []
        sf = gateway(emu, auth={"on_tokens": seen.append})
        old = sf.client.auth.tokens.refresh_token
        emu.admin.expire_tokens()
        sf.describe_contact()
        assert len(seen) == 1 and seen[0].refresh_token not in (None, old)


class TestFaults:
    def test_503s_are_retried(self, emu: Emulator) -> None:
        emu.admin.add_fault(status=503, count=2, path="/query")
        sf = gateway(emu)
        assert sf.find_contact_ids_by_email("nobody@example.com") == []
        statuses = [r["status"] for r in emu.admin.requests() if "/query" in r["path"]]
        assert statuses == [503, 503, 200]

    def test_persistent_503_gives_up_as_unavailable(self, emu: Emulator) -> None:
        emu.admin.add_fault(status=503, count=-1, path="/query")
        with pytest.raises(SalesforceUnavailable):
            gateway(emu).find_contact_ids_by_email("nobody@example.com")

    def test_lock_contention_on_write_is_retried(self, emu: Emulator) -> None:
        cid = emu.admin.create_contact(Email="lock@example.com", LastName="L")
        emu.admin.add_fault(lock=True, count=1)
        results = gateway(emu).update_contacts([ContactUpdate(cid, {"FirstName": "Locked"})])
        assert results[0].ok, results
        assert emu.admin.get_contact(cid)["FirstName"] == "Locked"

    def test_slow_responses_hit_the_timeout_and_are_retried(self, emu: Emulator) -> None:
        emu.admin.add_fault(latency_ms=1500, count=1, path="/query")
        sf = gateway(emu, timeout=0.5)
        sf.describe_contact()
        assert sf.find_contact_ids_by_email("nobody@example.com") == []
        assert sf.calls == 3  # describe, the timed-out query, its retry

    def test_exhausted_org_quota_stops_without_retry(self, emu: Emulator) -> None:
        sf = gateway(emu)
        sf.describe_contact()
        emu.admin.set_quota(used=emu.admin.state()["api_max"])
        with pytest.raises(SalesforceQuotaExceeded):
            sf.find_contact_ids_by_email("nobody@example.com")
        assert sf.calls == 2

    def test_configured_share_stops_the_run_first(self, emu: Emulator) -> None:
        emu.admin.set_quota(max=100, used=60)
        sf = gateway(emu, client={"max_share": 0.5})
        sf.describe_contact()
        with pytest.raises(SalesforceQuotaExceeded) as err:
            sf.find_contact_ids_by_email("nobody@example.com")
        assert err.value.error_code == "MAX_SHARE_REACHED"


class TestOAuthFlows:
    def test_web_server_flow_with_pkce_end_to_end(self, emu: Emulator) -> None:
        app = emulator_app(emu)
        request = authorize_url(app)
        with httpx.Client(verify=emu.ssl_context()) as http:
            redirect = http.get(request.url, follow_redirects=False)
            assert redirect.status_code == 302
            back = httpx.URL(redirect.headers["Location"])
            assert back.params["state"] == request.state
            tokens = exchange_code(http, app, back.params["code"], request.code_verifier)
            with pytest.raises(ReauthorizationRequired):  # codes are single use
                exchange_code(http, app, back.params["code"], request.code_verifier)
        assert tokens.refresh_token and tokens.instance_url.startswith("https://127.0.0.1")

    def test_wrong_pkce_verifier_is_refused(self, emu: Emulator) -> None:
        app = emulator_app(emu)
        request = authorize_url(app)
        with httpx.Client(verify=emu.ssl_context()) as http:
            code = httpx.URL(http.get(request.url).headers["Location"]).params["code"]
            with pytest.raises(ReauthorizationRequired):
                exchange_code(http, app, code, "not-the-verifier")

    def test_jwt_bearer_grant_gets_a_working_session(self, emu: Emulator) -> None:
        key, cert_pem = _key_and_certificate()
        emu.admin.register_client("jwt-app", cert_pem=cert_pem)
        app = OAuthApp(emu.base_url, "jwt-app", hosts=SalesforceHosts.allowing([emu.base_url]))
        auth = JwtBearerAuth(app, "emulator@sfsync.local", key)
        sf = HttpxSalesforce(
            auth,
            SalesforceSettings(client=ClientSettings(retry=FAST)),
            http=httpx.Client(verify=emu.ssl_context()),
        )
        assert sf.describe_contact().get("Email") is not None
        emu.admin.expire_tokens()
        assert sf.find_contact_ids_by_email("nobody@example.com") == []
        assert sf.calls == 5  # grant, describe, 401, grant again, retried query


def _key_and_certificate() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sfsync-test")])
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem_key, cert.public_bytes(serialization.Encoding.PEM).decode()


class TestEmailLookup:
    HOSTILE = (
        "o'brien@example.com",
        "back\\slash@example.com",
        "x'OR'1'!='@example.com",
        'quote"d@example.com',
        "per%cent_under@example.com",
        "zoë.ünïcode@exämple.com",
        "\\'OR(Email!='\\@example.com",
    )
    # Salesforce refuses whitespace in an Email: these are looked up, never stored.
    UNSTORABLE = ("x' OR Id != '@example.com", "line\nbreak@example.com", "a' OR Email != 'b")

    def test_each_hostile_email_is_one_literal_and_matches_only_its_contact(
        self, emu: Emulator
    ) -> None:
        """Seeded as Contacts, each hostile email finds its own Contact and nothing else."""
        emu.admin.reset(contacts=50)
        ids = {email: emu.admin.create_contact(Email=email, LastName="X") for email in self.HOSTILE}
        sf = gateway(emu)
        for email, cid in ids.items():
            assert [c.id for c in sf.find_contacts_by_email([email])] == [cid], email
            assert [c.id for c in sf.find_contacts_by_email([email.upper()])] == [cid], email
        together = sf.find_contacts_by_email([*self.HOSTILE, *self.UNSTORABLE])
        assert sorted(c.id for c in together) == sorted(ids.values())

    def test_a_too_long_email_matches_nothing_and_its_batch_still_runs(self, emu: Emulator) -> None:
        """A 10 KB email cannot be a SOQL literal: it is left out, the others are found."""
        emu.admin.reset(contacts=0)
        ada = emu.admin.create_contact(Email="ada@example.com", LastName="L")
        sf = gateway(emu)
        huge = "a'" * 5_000 + "@example.com"
        found = sf.find_contacts_by_email([huge, "ADA@example.com", "é" * 3_000 + "@x.com"])
        assert [c.id for c in found] == [ada]
        assert all(len(q) < 8_000 for q in soql_received(emu))

    def test_a_thousand_emails_take_a_few_queries_each_under_the_url_limit(
        self, emu: Emulator
    ) -> None:
        emu.admin.reset(contacts=0)
        emails = [f"person.{n:04d}.{'x' * 12}@example.com" for n in range(1_000)]
        wanted = {emu.admin.create_contact(Email=e, LastName="L") for e in emails[::97]}
        sf = gateway(emu)
        sf.describe_contact()
        emu.admin.clear_requests()
        found = sf.find_contacts_by_email(emails, ["gq_import__c"])
        assert {c.id for c in found} == wanted
        queries = [r for r in emu.admin.requests() if "/services/data" in r["path"]]
        assert 5 <= len(queries) <= 8
        assert all(len(r["path"]) + len(r["query"]) + 60 <= 8_192 for r in queries)
        received = soql_received(emu)
        assert sum(q.count("@example.com") for q in received) == 1_000


class TestStreamedUpdate:
    def test_one_ingest_job_for_every_page_with_results_in_wire_values(self, emu: Emulator) -> None:
        ids = [emu.admin.create_contact(Email=f"s{n}@example.com", LastName="S") for n in range(5)]
        values = [
            {"Age__c": 41, "Score__c": 12.5, "gq_import__c": True, "Title": 'a,"b"\nc'},
            {"Age__c": None, "gq_import__c": False},
            {"Title": "t"},
        ]
        pages = [
            [ContactUpdate(ids[0], values[0]), ContactUpdate(ids[1], values[1])],
            [ContactUpdate(ids[2], values[2]), ContactUpdate(ids[3], {"Age__c": 1000})],
        ]
        emu.admin.clear_requests()
        fields = ["Age__c", "Score__c", "gq_import__c", "Title"]
        sf = gateway(emu, bulk_write_threshold=2)
        results = {r.contact_id: r for r in sf.update_contacts_streamed(fields, pages)}
        assert [results[i].values for i in ids[:3]] == values
        assert [results[i].ok for i in ids[:4]] == [True, True, True, False]
        assert results[ids[3]].values == {"Age__c": 1000} and results[ids[3]].fields
        jobs = [r for r in emu.admin.requests() if r["method"] == "POST"]
        assert [r["path"].rsplit("/", 1)[-1] for r in jobs] == ["ingest"]
        assert emu.admin.get_contact(ids[0])["Title"] == 'a,"b"\nc'
        reads = {r["path"].rstrip("/").rsplit("/", 1)[-1] for r in emu.admin.requests()}
        assert "failedResults" in reads  # one refused row: read, the accepted ones are not
        assert not reads & {"successfulResults", "unprocessedrecords"}

    def test_an_upload_over_the_limit_is_split_into_jobs(
        self, emu: Emulator, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        ids = [emu.admin.create_contact(Email=f"u{n}@example.com", LastName="U") for n in range(6)]
        monkeypatch.setattr("sfsync.adapters.salesforce.writes.UPLOAD_BYTES", 80)
        emu.admin.clear_requests()
        sf = gateway(emu, bulk_write_threshold=1)
        pages = [[ContactUpdate(i, {"Title": "split"}) for i in ids]]
        results = list(sf.update_contacts_streamed(["Title"], pages))
        assert sorted(r.contact_id for r in results if r.ok) == sorted(ids)
        jobs = [r for r in emu.admin.requests() if r["method"] == "POST"]
        assert len(jobs) > 1
