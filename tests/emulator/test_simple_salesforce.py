"""Fidelity through a real third-party client: simple-salesforce, unchanged, over HTTPS."""

from __future__ import annotations

import csv
import io

from simple_salesforce import Salesforce

from sfsync_emulator.harness import Emulator


def test_query_all_iter_pages_through_5000_contacts(sf: Salesforce) -> None:
    rows = list(sf.query_all_iter("SELECT Id, Email, SystemModstamp FROM Contact"))
    assert len(rows) == 5000
    assert len({r["Id"] for r in rows}) == 5000
    assert rows[0]["attributes"]["type"] == "Contact"


def test_query_include_deleted_shows_recycle_bin(sf: Salesforce, org: Emulator) -> None:
    rid = sf.query("SELECT Id FROM Contact LIMIT 1")["records"][0]["Id"]
    org.admin.delete_contact(rid)
    soql = f"SELECT Id, IsDeleted FROM Contact WHERE Id = '{rid}'"
    assert sf.query(soql)["totalSize"] == 0
    rows = sf.query(soql, include_deleted=True)["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in rows] == [(rid, True)]


def test_contact_update_returns_204_and_sticks(sf: Salesforce) -> None:
    rid = sf.query("SELECT Id FROM Contact LIMIT 1")["records"][0]["Id"]
    assert sf.Contact.update(rid, {"gq_import__c": True, "Hobbies__c": "Chess;Music"}) == 204
    row = sf.Contact.get(rid)
    assert row["gq_import__c"] is True
    assert row["Hobbies__c"] == "Chess;Music"


def test_contact_describe(sf: Salesforce) -> None:
    desc = sf.Contact.describe()
    types = {f["name"]: f["type"] for f in desc["fields"]}
    assert types["Email"] == "email"
    assert types["MailingAddress"] == "address"
    assert types["Hobbies__c"] == "multipicklist"
    assert types["gq_import__c"] == "boolean"
    assert desc["keyPrefix"] == "003"


def test_limits(sf: Salesforce) -> None:
    limits = sf.limits()
    assert limits["DailyApiRequests"]["Max"] == 100_000
    assert limits["DailyApiRequests"]["Remaining"] < 100_000
    assert sf.api_usage["api-usage"].total == 100_000


def test_bulk2_query_20000_rows(sf: Salesforce, org: Emulator) -> None:
    org.reset(contacts=20_000)
    pages = list(
        sf.bulk2.Contact.query(
            "SELECT Id, Email, gq_import__c FROM Contact", max_records=7000, wait=0.05
        )
    )
    assert len(pages) == 3
    rows = [r for page in pages for r in csv.DictReader(io.StringIO(page))]
    assert len(rows) == 20_000
    assert {r["gq_import__c"] for r in rows} == {"true", "false"}


def test_bulk2_update(sf: Salesforce, org: Emulator) -> None:
    ids = [r["Id"] for r in sf.query("SELECT Id FROM Contact LIMIT 3")["records"]]
    records = [
        {"Id": ids[0], "Title": "Updated"},
        {"Id": ids[1], "Title": "Also"},
        {"Id": ids[2], "Email": "not-an-email"},
    ]
    result = sf.bulk2.Contact.update(records=records, wait=0.05)
    assert result[0]["numberRecordsProcessed"] == 3
    assert result[0]["numberRecordsFailed"] == 1
    assert sf.Contact.get(ids[0])["Title"] == "Updated"
    failed = sf.bulk2.Contact.get_failed_records(result[0]["job_id"])
    assert "INVALID_EMAIL_ADDRESS" in failed
