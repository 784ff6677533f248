"""Salesforce's error text echoes record values and SOQL literals: none of it is kept.

Against the emulator over real HTTPS, whose messages quote the refused value as Salesforce's
do ("Nickname: data value too large: <value>", "invalid email address: <value>").
"""

from __future__ import annotations

import pytest

from sfsync.adapters.salesforce.errors import SalesforceRequestError, SalesforceUnavailable
from sfsync.domain.ports import ContactUpdate
from sfsync_emulator.harness import Emulator
from tests.integration.test_salesforce_adapter import gateway

pytestmark = pytest.mark.emulator

TOO_LONG = "Quixotella Brambleworth of Thistlewick Lane"  # Nickname__c holds 40
BAD_EMAIL = "quixotella at zephyrmail"


@pytest.fixture(name="emu")
def _emu(sf_emulator: Emulator) -> Emulator:
    sf_emulator.admin.reset(contacts=0)
    return sf_emulator


def _shown(results) -> str:
    return " ".join(f"{r!r} {r.message}" for r in results)


@pytest.mark.parametrize("bulk", [False, True], ids=["collections", "bulk_ingest"])
def test_refused_records_keep_code_and_fields_not_the_value(emu: Emulator, bulk: bool) -> None:
    one, two = (emu.admin.create_contact(Email=f"q{n}@example.com") for n in (1, 2))
    sf = gateway(emu, bulk_write_threshold=1 if bulk else 10_000)
    results = sf.update_contacts(
        [ContactUpdate(one, {"Nickname__c": TOO_LONG}), ContactUpdate(two, {"Email": BAD_EMAIL})]
    )
    assert [(r.ok, r.error_code, r.fields) for r in results] == [
        (False, "STRING_TOO_LONG", ("Nickname__c",)),
        (False, "INVALID_EMAIL_ADDRESS", ("Email",)),
    ]
    assert results[0].message == "a value is longer than the field allows"
    for value in ("Quixotella", "Thistlewick", "zephyrmail"):
        assert value not in _shown(results)


def test_a_refused_request_keeps_code_status_and_fields_not_the_text(emu: Emulator) -> None:
    emu.admin.add_fault(
        status=400,
        error_code="MALFORMED_QUERY",
        message="LastName = 'Brambleworth' AND Email = 'q@zephyrmail.example' ^ ERROR at Row:1",
        path="/query",
    )
    with pytest.raises(SalesforceRequestError) as err:
        gateway(emu).find_contact_ids_by_email("quixotella@zephyrmail.example")
    assert (err.value.error_code, err.value.status) == ("MALFORMED_QUERY", 400)
    assert "Brambleworth" not in f"{err.value} {err.value!r}"
    assert "zephyrmail" not in f"{err.value} {err.value!r}"


def test_a_transient_fault_keeps_no_text_either(emu: Emulator) -> None:
    emu.admin.add_fault(status=503, count=-1, message="busy with Quixotella", path="/query")
    with pytest.raises(SalesforceUnavailable) as err:
        gateway(emu).find_contact_ids_by_email("x@example.com")
    assert err.value.status == 503 and "Quixotella" not in f"{err.value} {err.value!r}"
