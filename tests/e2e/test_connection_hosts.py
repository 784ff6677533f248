"""The worker sends tokens only to allowed hosts, whatever the connection row says."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def tamper(harness, column: str, value: str) -> None:
    with harness.container.pool.connection() as conn:
        conn.execute(
            f"UPDATE salesforce_connections SET {column} = %s WHERE account_id = %s",
            (value, harness.account),
        )


@pytest.mark.parametrize(
    ("column", "value", "code"),
    [
        ("login_url", "https://login.salesforce.com.evil.example", "login_url_refused"),
        ("login_url", "http://login.salesforce.com", "login_url_refused"),
        ("instance_url", "https://evil.example", "instance_url_refused"),
    ],
)
def test_a_stored_host_that_is_not_allowed_fails_the_run_without_a_call(
    harness, column, value, code
):
    """Ends `failed` at once (a permanent failure, not retried) before any request is sent."""
    harness.emu.admin.create_contact(Email="someone@example.com", LastName="S")
    tamper(harness, column, value)
    harness.emu.admin.clear_requests()
    event = harness.sync(timeout=60)
    assert event["status"] == "failed"
    assert [e["code"] for e in event["errors"]] == [code]
    assert harness.emu.admin.requests() == []
    assert harness.candidates() == []
