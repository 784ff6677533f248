"""One emulator process per test session; each test gets a freshly reset org."""

from __future__ import annotations

import httpx
import pytest
from simple_salesforce import Salesforce

from sfsync_emulator.harness import Emulator

VERSION = "59.0"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/emulator/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.emulator)


@pytest.fixture
def org(sf_org: Emulator) -> Emulator:
    return sf_org


@pytest.fixture
def api(org: Emulator) -> httpx.Client:
    """httpx client on the data API with a fresh access token."""
    headers = {"Authorization": f"Bearer {org.token()}"}
    with httpx.Client(
        base_url=f"{org.base_url}/services/data/v{VERSION}",
        verify=org.ssl_context(),
        headers=headers,
        timeout=60,
    ) as client:
        yield client


@pytest.fixture
def raw(org: Emulator) -> httpx.Client:
    """httpx client on the emulator root, no credentials."""
    with httpx.Client(base_url=org.base_url, verify=org.ssl_context(), timeout=60) as client:
        yield client


@pytest.fixture
def sf(org: Emulator, monkeypatch: pytest.MonkeyPatch) -> Salesforce:
    """Unchanged simple-salesforce in direct-session mode, trusting the emulator CA."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", org.ca_path)
    monkeypatch.setenv("SSL_CERT_FILE", org.ca_path)
    return Salesforce(instance_url=org.base_url, session_id=org.token(), version=VERSION)
