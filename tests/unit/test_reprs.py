"""Reprs (and so str, tracebacks with locals, debuggers) hold no secret and no personal data,
but keep the ids that say which record it is."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sfsync.adapters.salesforce.auth import AuthorizationRequest, OAuthApp, Tokens
from sfsync.domain.messages import CandidateSignedUp
from sfsync.domain.model import AccountId, Candidate, Contact, SalesforceId
from sfsync.domain.ports import ContactUpdate, SalesforceConnection
from sfsync.entrypoints.settings import Settings, masked_url
from sfsync.services.page_writer import Lookup

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SECRETS = [
    "ada.lovelace@example.com",
    "Augusta",
    "Lovelace",
    "Augusta Ada King",
    "+44 20 7946 0958",
    "Analytical",
    "00Dxx!AQ.access-token",
    "5Aep861-refresh-token",
    "hunter2",
    "rabbit-pw",
    "ZmVybmV0LWtleS1zZWNyZXQtMzItYnl0ZXMtbG9uZyE=",
    "client-secret-value",
    "pkce-verifier",
]
CASES = [
    (
        Candidate(
            id="cand_1",
            account_id=AccountId("acc_1"),
            email="ada.lovelace@example.com",
            first_name="Augusta",
            last_name="Lovelace",
            name="Augusta Ada King",
            salesforce_id=SalesforceId("003000000000001AAA"),
            attributes={"phone": "+44 20 7946 0958", "engine": "Analytical"},
        ),
        ["cand_1", "acc_1", "003000000000001AAA"],
    ),
    (
        Contact(
            id=SalesforceId("003000000000001AAA"),
            email="ada.lovelace@example.com",
            first_name="Augusta",
            last_name="Lovelace",
            name="Augusta Ada King",
            system_modstamp=NOW,
            fields={"Phone": "+44 20 7946 0958"},
        ),
        ["003000000000001AAA", "2026"],
    ),
    (
        SalesforceConnection(
            account_id=AccountId("acc_1"),
            instance_url="https://acme.my.salesforce.com",
            login_url="https://login.salesforce.com",
            access_token="00Dxx!AQ.access-token",
            refresh_token="5Aep861-refresh-token",
        ),
        ["acc_1", "acme.my.salesforce.com"],
    ),
    (
        Settings(
            database_url="postgresql://sfsync:hunter2@db:5432/sfsync",
            amqp_url="amqps://sfsync:rabbit-pw@mq/%2F",
            encryption_keys=("ZmVybmV0LWtleS1zZWNyZXQtMzItYnl0ZXMtbG9uZyE=",),
            sf_client_id="client-id",
            sf_client_secret="client-secret-value",
        ),
        ["db:5432/sfsync", "sfsync:***@mq", "client-id"],
    ),
    (
        CandidateSignedUp(
            type="candidate.signed_up",
            version=1,
            id="m1",
            occurred_at=NOW,
            account_id="acc_1",
            candidate_id="cand_1",
            email="ada.lovelace@example.com",
        ),
        ["m1", "cand_1"],
    ),
    (ContactUpdate(SalesforceId("003A"), {"Phone": "+44 20 7946 0958"}), ["003A"]),
    (Lookup([], frozenset({"ada.lovelace@example.com", "003A"}), 7), ["committed=7"]),
    (
        Tokens("00Dxx!AQ.access-token", "https://acme.my.salesforce.com", "5Aep861-refresh-token"),
        ["acme"],
    ),
    (OAuthApp("https://login.salesforce.com", "client-id", "client-secret-value"), ["client-id"]),
    (AuthorizationRequest("https://login/authorize", "pkce-verifier", "st"), ["st"]),
]


@pytest.mark.parametrize(("value", "kept"), CASES, ids=[type(v).__name__ for v, _ in CASES])
def test_repr_and_str_hold_no_secret_or_personal_data_but_keep_ids(value, kept) -> None:
    shown = f"{value!r} {value!s}"
    assert [s for s in SECRETS if s.lower() in shown.lower()] == []
    assert [k for k in kept if k not in shown] == []


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:p%40ss@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://h/db?user=u&password=hunter2", "postgresql://h/db?***"),
        ("amqp://guest:guest@127.0.0.1:5672/%2F", "amqp://guest:***@127.0.0.1:5672/%2F"),
        ("postgresql://u:p@[::1/db", "***"),
    ],
)
def test_urls_are_shown_without_their_password(url, shown) -> None:
    assert masked_url(url) == shown
