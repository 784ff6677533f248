"""Writes applied as Salesforce applies them, through sObject Collections and Bulk 2.0 ingest."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from simple_salesforce import Salesforce

from sfsync_emulator.harness import Emulator

STAMPS = ("SystemModstamp", "LastModifiedDate")


def _ids(api: httpx.Client, n: int) -> list[str]:
    rows = api.get("/query", params={"q": f"SELECT Id FROM Contact LIMIT {n}"}).json()
    return [r["Id"] for r in rows["records"]]


def _collection(
    api: httpx.Client, records: list[dict[str, Any]], all_or_none: bool = False
) -> list[dict[str, Any]]:
    recs = [{"attributes": {"type": "Contact"}, **r} for r in records]
    res = api.patch("/composite/sobjects", json={"allOrNone": all_or_none, "records": recs})
    assert res.status_code == 200, res.text
    return res.json()


def _codes(results: list[dict[str, Any]]) -> list[str | None]:
    return [None if r["success"] else r["errors"][0]["statusCode"] for r in results]


def _bulk_update(sf: Salesforce, records: list[dict[str, Any]]) -> tuple[dict, list[dict]]:
    """One Bulk 2.0 update job through simple-salesforce: its info and failed rows."""
    (info,) = sf.bulk2.Contact.update(records=records, wait=0.05)
    failed = sf.bulk2.Contact.get_failed_records(info["job_id"])
    return info, list(csv.DictReader(io.StringIO(failed)))


def _bulk_codes(failed: list[dict]) -> dict[str, str]:
    return {row["Id"]: row["sf__Error"].split(":")[0] for row in failed}


def _row(org: Emulator, rid: str) -> dict[str, Any]:
    return org.admin.get_contact(rid)


class TestDuplicateIds:
    def test_a_collection_naming_one_record_twice_fails_both(
        self, api: httpx.Client, org: Emulator
    ) -> None:
        """Both entries fail with DUPLICATE_VALUE, the record keeps its value, others save."""
        a, b = _ids(api, 2)
        before = _row(org, a)
        res = _collection(
            api, [{"id": a, "Title": "first"}, {"id": b, "Title": "ok"}, {"id": a, "Title": "last"}]
        )
        assert _codes(res) == ["DUPLICATE_VALUE", None, "DUPLICATE_VALUE"]
        assert a in res[0]["errors"][0]["message"]
        assert [r["id"] for r in res] == [a, b, a]
        assert _row(org, a)["Title"] == before["Title"]
        assert _row(org, a)["SystemModstamp"] == before["SystemModstamp"]
        assert _row(org, b)["Title"] == "ok"

    def test_a_15_character_id_is_the_same_record(self, api: httpx.Client) -> None:
        """The duplicate check compares records, not spellings of their Ids."""
        (a,) = _ids(api, 1)
        res = _collection(api, [{"id": a, "Title": "x"}, {"id": a[:15], "Title": "y"}])
        assert _codes(res) == ["DUPLICATE_VALUE", "DUPLICATE_VALUE"]

    def test_all_or_none_rolls_the_rest_back(self, api: httpx.Client, org: Emulator) -> None:
        a, b = _ids(api, 2)
        res = _collection(
            api,
            [{"id": a, "Title": "x"}, {"id": a, "Title": "y"}, {"id": b, "Title": "z"}],
            all_or_none=True,
        )
        assert _codes(res) == [
            "DUPLICATE_VALUE",
            "DUPLICATE_VALUE",
            "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        ]
        assert _row(org, b)["Title"] != "z"

    def test_a_bulk_job_naming_one_record_twice_fails_both_rows(
        self, sf: Salesforce, org: Emulator
    ) -> None:
        """Never last-wins: both rows go to failedResults; the other rows are applied."""
        a, b = [r["Id"] for r in sf.query("SELECT Id FROM Contact LIMIT 2")["records"]]
        before = _row(org, a)["Title"]
        info, failed = _bulk_update(
            sf, [{"Id": a, "Title": "first"}, {"Id": b, "Title": "ok"}, {"Id": a, "Title": "last"}]
        )
        assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (3, 2)
        assert [r["Id"] for r in failed] == [a, a]
        assert {r["sf__Error"].split(":")[0] for r in failed} == {"DUPLICATE_VALUE"}
        assert _row(org, a)["Title"] == before
        assert _row(org, b)["Title"] == "ok"


@pytest.fixture
def formula(org: Emulator) -> str:
    org.admin.add_field("Full_Label__c", "string", length=255, formula="FirstName & ' ' & LastName")
    return "Full_Label__c"


class TestFieldRules:
    """One bad value per record; each rule is checked by Collections and by Bulk ingest."""

    CASES = (
        ("Favorite_Color__c", "Mauve", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        ("Nickname__c", "x" * 41, "STRING_TOO_LONG"),
        ("Score__c", 1_000_000, "NUMBER_OUTSIDE_VALID_RANGE"),
        ("Age__c", 1000, "NUMBER_OUTSIDE_VALID_RANGE"),
        ("Title", "ro", "INVALID_FIELD_FOR_INSERT_UPDATE"),
        ("LastModifiedDate", "2024-01-01T00:00:00Z", "INVALID_FIELD_FOR_INSERT_UPDATE"),
        ("Full_Label__c", "x", "INVALID_FIELD_FOR_INSERT_UPDATE"),
        ("Tags__c", "Red;Nope", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
    )

    @pytest.fixture(autouse=True)
    def _schema(self, org: Emulator, formula: str) -> None:
        org.admin.add_field(
            "Tags__c", "multipicklist", length=4099, picklist=["Red", "Green"], restricted=True
        )
        org.admin.set_field_security(read_only=["Title"])

    def test_collections_fail_each_bad_record_and_keep_the_good(
        self, api: httpx.Client, org: Emulator
    ) -> None:
        ids = _ids(api, len(self.CASES) + 1)
        before = {i: _row(org, i) for i in ids}
        cases = zip(ids, self.CASES, strict=False)
        recs = [{"id": i, name: value} for i, (name, value, _) in cases]
        res = _collection(api, [*recs, {"id": ids[-1], "Tags__c": "Green;Red"}])
        assert _codes(res) == [code for *_, code in self.CASES] + [None]
        assert res[0]["errors"][0]["fields"] == ["Favorite_Color__c"]
        for i in ids[:-1]:
            assert _row(org, i) == before[i]  # nothing written, no stamp bumped
        after = _row(org, ids[-1])
        assert after["Tags__c"] == "Green;Red"
        assert all(after[s] > before[ids[-1]][s] for s in STAMPS)

    def test_bulk_ingest_fails_each_bad_row_and_keeps_the_good(
        self, sf: Salesforce, org: Emulator
    ) -> None:
        rows = sf.query(f"SELECT Id FROM Contact LIMIT {len(self.CASES) + 1}")["records"]
        ids = [r["Id"] for r in rows]
        before = {i: _row(org, i) for i in ids}
        for i, (name, value, code) in zip(ids, self.CASES, strict=False):
            info, failed = _bulk_update(
                sf, [{"Id": i, name: value}, {"Id": ids[-1], "Tags__c": "Red"}]
            )
            assert _bulk_codes(failed) == {i: code}, name
            assert _row(org, i) == before[i]
        assert _row(org, ids[-1])["Tags__c"] == "Red"

    def test_a_hidden_field_does_not_exist(self, api: httpx.Client, org: Emulator) -> None:
        """Field-level security hides: INVALID_FIELD per record, a failed Bulk job."""
        org.admin.set_field_security(hidden=["Age__c"])
        (rid,) = _ids(api, 1)
        assert _codes(_collection(api, [{"id": rid, "Age__c": 3}])) == ["INVALID_FIELD"]
        job = api.post("/jobs/ingest", json={"object": "Contact", "operation": "update"})
        job_id = job.json()["id"]
        api.put(
            f"/jobs/ingest/{job_id}/batches",
            content=f"Id,Age__c\n{rid},3\n".encode(),
            headers={"Content-Type": "text/csv"},
        )
        api.patch(f"/jobs/ingest/{job_id}", json={"state": "UploadComplete"})
        status = api.get(f"/jobs/ingest/{job_id}").json()
        assert status["state"] == "Failed" and "Age__c" in status["errorMessage"]

    def test_formula_fields_describe_as_calculated(self, sf: Salesforce, formula: str) -> None:
        field = next(f for f in sf.Contact.describe()["fields"] if f["name"] == formula)
        assert field["calculated"] is True and field["calculatedFormula"]
        assert (field["createable"], field["updateable"]) == (False, False)


class TestBadValues:
    def test_rest_refuses_a_bad_date_or_boolean_as_json_parser_error(
        self, api: httpx.Client
    ) -> None:
        a, b = _ids(api, 2)
        res = _collection(
            api, [{"id": a, "Birthdate": "2024-02-30"}, {"id": b, "HasOptedOutOfEmail": "perhaps"}]
        )
        assert _codes(res) == ["JSON_PARSER_ERROR", "JSON_PARSER_ERROR"]

    def test_bulk_refuses_a_bad_date_or_boolean_per_row(self, sf: Salesforce) -> None:
        a, b, c = [r["Id"] for r in sf.query("SELECT Id FROM Contact LIMIT 3")["records"]]
        info, failed = _bulk_update(
            sf,
            [
                {"Id": a, "Birthdate": "2024-02-30"},
                {"Id": b, "HasOptedOutOfEmail": "perhaps"},
                {"Id": c, "Birthdate": "2024-02-29"},
            ],
        )
        assert _bulk_codes(failed) == {
            a: "INVALID_TYPE_ON_FIELD_IN_RECORD",
            b: "INVALID_TYPE_ON_FIELD_IN_RECORD",
        }
        assert "Birthdate" in failed[0]["sf__Error"]


class TestDeletedRecords:
    def test_collections_and_bulk_answer_entity_is_deleted(
        self, api: httpx.Client, sf: Salesforce, org: Emulator
    ) -> None:
        a, b = _ids(api, 2)
        org.admin.delete_contact(a)
        res = _collection(api, [{"id": a, "Title": "x"}, {"id": b, "Title": "y"}])
        assert _codes(res) == ["ENTITY_IS_DELETED", None]
        _, failed = _bulk_update(sf, [{"Id": a, "Title": "x"}])
        assert _bulk_codes(failed) == {a: "ENTITY_IS_DELETED"}


class TestStamps:
    def test_every_successful_update_bumps_both_stamps(
        self, api: httpx.Client, sf: Salesforce, org: Emulator
    ) -> None:
        (rid,) = _ids(api, 1)
        first = _row(org, rid)
        _collection(api, [{"id": rid, "Title": "one"}])
        second = _row(org, rid)
        _bulk_update(sf, [{"Id": rid, "Title": "two"}])
        third = _row(org, rid)
        for stamp in STAMPS:
            assert first[stamp] < second[stamp] < third[stamp], stamp

    def test_a_failed_update_bumps_neither(
        self, api: httpx.Client, sf: Salesforce, org: Emulator
    ) -> None:
        (rid,) = _ids(api, 1)
        before = _row(org, rid)
        assert _codes(_collection(api, [{"id": rid, "Email": "broken"}])) != [None]
        assert _bulk_update(sf, [{"Id": rid, "Email": "broken"}])[1] != []
        org.admin.add_fault(lock=True, count=1, record_ids=[rid])
        assert _codes(_collection(api, [{"id": rid, "Title": "x"}])) == ["UNABLE_TO_LOCK_ROW"]
        assert _row(org, rid) == before


class TestWriteFaults:
    def test_per_record_lock_failures_in_collections_and_bulk(
        self, api: httpx.Client, sf: Salesforce, org: Emulator
    ) -> None:
        """A lock fault names records; the others in the same call or job save."""
        a, b = _ids(api, 2)
        org.admin.add_fault(lock=True, count=1, record_ids=[a])
        assert _codes(_collection(api, [{"id": a, "Title": "x"}, {"id": b, "Title": "x"}])) == [
            "UNABLE_TO_LOCK_ROW",
            None,
        ]
        org.admin.add_fault(lock=True, count=1, record_ids=[b])  # only the job's apply counts
        info, failed = _bulk_update(sf, [{"Id": a, "Title": "y"}, {"Id": b, "Title": "y"}])
        assert _bulk_codes(failed) == {b: "UNABLE_TO_LOCK_ROW"}
        assert _row(org, a)["Title"] == "y"

    def test_a_per_record_fault_may_carry_another_code(
        self, api: httpx.Client, org: Emulator
    ) -> None:
        (rid,) = _ids(api, 1)
        org.admin.add_fault(
            lock=True,
            count=1,
            record_ids=[rid],
            error_code="FIELD_CUSTOM_VALIDATION_EXCEPTION",
            message="Title must be upper case",
        )
        res = _collection(api, [{"id": rid, "Title": "x"}])
        assert res[0]["errors"][0] == {
            "statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "message": "Title must be upper case",
            "fields": [],
        }

    def test_an_expired_session_and_a_503_mid_write(self, api: httpx.Client, org: Emulator) -> None:
        (rid,) = _ids(api, 1)
        org.admin.add_fault(status=401, count=1, path="/composite")
        expired = api.patch("/composite/sobjects", json={"records": []})
        assert expired.status_code == 401
        assert expired.json() == [
            {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
        ]
        org.admin.add_fault(status=503, count=1, path="/jobs/ingest", method="PATCH")
        job = api.post("/jobs/ingest", json={"object": "Contact", "operation": "update"})
        job_id = job.json()["id"]
        api.put(
            f"/jobs/ingest/{job_id}/batches",
            content=f"Id,Title\n{rid},z\n".encode(),
            headers={"Content-Type": "text/csv"},
        )
        closing = api.patch(f"/jobs/ingest/{job_id}", json={"state": "UploadComplete"})
        assert closing.status_code == 503
        assert api.get(f"/jobs/ingest/{job_id}").json()["state"] == "Open"


class TestReadAfterWrite:
    VALUES = {
        "Birthdate": "1815-12-10",
        "Signup_Date__c": "2024-02-29",
        "Last_Seen__c": "2024-03-01T14:30:00.000+0000",
        "Score__c": 12.5,
        "Donation__c": 250.75,
        "Completion__c": 80.0,
        "Age__c": 41.0,
        "Hobbies__c": "Chess;Music",
        "Favorite_Color__c": "Green",
        "HasOptedOutOfEmail": True,
        "Notes__c": "line one\nline 'two', \"three\"",
        "Nickname__c": "Zoë",
    }

    def test_collections_write_reads_back_unchanged(
        self, api: httpx.Client, sf: Salesforce
    ) -> None:
        (rid,) = _ids(api, 1)
        sent = {
            **self.VALUES,
            "Last_Seen__c": "2024-03-01T16:30:00+02:00",
            "Score__c": 12.504,
            "Age__c": 41,
        }
        assert _codes(_collection(api, [{"id": rid, **sent}])) == [None]
        got = sf.query(f"SELECT {', '.join(self.VALUES)} FROM Contact WHERE Id = '{rid}'")
        row = {k: v for k, v in got["records"][0].items() if k != "attributes"}
        assert row == self.VALUES

    def test_bulk_write_reads_back_unchanged_through_bulk_query(self, sf: Salesforce) -> None:
        (rid,) = [r["Id"] for r in sf.query("SELECT Id FROM Contact LIMIT 1")["records"]]
        text = {
            k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in self.VALUES.items()
        }
        info, failed = _bulk_update(sf, [{"Id": rid, **text}])
        assert failed == [] and info["numberRecordsFailed"] == 0
        (page,) = sf.bulk2.Contact.query(
            f"SELECT {', '.join(self.VALUES)} FROM Contact WHERE Id = '{rid}'", wait=0.05
        )
        (row,) = csv.DictReader(io.StringIO(page))
        assert row["Birthdate"] == "1815-12-10" and row["Hobbies__c"] == "Chess;Music"
        assert row["Last_Seen__c"] == "2024-03-01T14:30:00.000Z"
        assert float(row["Score__c"]) == 12.5 and row["HasOptedOutOfEmail"] == "true"
        assert row["Notes__c"] == self.VALUES["Notes__c"]
