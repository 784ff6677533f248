"""Pytest fixtures: one emulator per session, reset before each test that asks for it.

Use from a conftest.py:  from sfsync_emulator.pytest_plugin import sf_emulator, sf_org
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sfsync_emulator.harness import Emulator, run_emulator

SESSION_CONTACTS = 5000


@pytest.fixture(scope="session")
def sf_emulator() -> Iterator[Emulator]:
    with run_emulator(contacts=SESSION_CONTACTS, https=True) as emu:
        yield emu


@pytest.fixture
def sf_org(sf_emulator: Emulator) -> Emulator:
    """The shared emulator, reset to a fresh seeded org (milliseconds)."""
    sf_emulator.admin.reset(SESSION_CONTACTS)
    return sf_emulator


VENDOR_CONTACTS = 300


@pytest.fixture(scope="session")
def vendor_emulator() -> Iterator[Emulator]:
    """A second process: the Salesforce emulator also serving the vendor's API."""
    with run_emulator(contacts=VENDOR_CONTACTS, https=True, extra_args=("--vendor",)) as emu:
        yield emu


@pytest.fixture
def vendor_org(vendor_emulator: Emulator) -> Emulator:
    """The vendor emulator reset: a fresh org, an empty vendor cache, default vendor settings."""
    vendor_emulator.admin.reset(VENDOR_CONTACTS)
    return vendor_emulator
