"""Writes through MockTransport: sObject Collections and Bulk ingest results."""

from __future__ import annotations

import csv
import io
import itertools
import json

import httpx
import pytest

from sfsync.adapters.salesforce.errors import SalesforceIncompleteRead, SalesforceQuotaExceeded
from sfsync.domain.ports import ContactUpdate, WriteResult
from tests.unit.salesforce.recorded import Org, gateway, sf_error


def saved(request: httpx.Request) -> httpx.Response:
    """A Collections answer: every record saved but 003BAD."""
    records = json.loads(request.content)["records"]
    return httpx.Response(
        200,
        json=[
            {"id": r["id"], "success": True, "errors": []}
            if r["id"] != "003BAD"
            else {
                "id": None,
                "success": False,
                "errors": [
                    {
                        "statusCode": "INVALID_EMAIL_ADDRESS",
                        "message": "Email: invalid email address",
                        "fields": ["Email"],
                    }
                ],
            }
            for r in records
        ],
    )


def collections(org: Org) -> None:
    org.route("PATCH", "/composite/sobjects", saved)


class TestCollections:
    def test_updates_go_200_a_call_with_results_in_input_order(self) -> None:
        org = Org()
        collections(org)
        updates = [ContactUpdate(f"003{n:015d}", {"FirstName": "A"}) for n in range(450)]
        updates[3] = ContactUpdate("003BAD", {"Email": "nope"})
        results = gateway(org).update_contacts(updates)
        patches = [r for r in org.requests if r.method == "PATCH"]
        assert [len(json.loads(p.content)["records"]) for p in patches] == [200, 200, 50]
        assert json.loads(patches[0].content)["allOrNone"] is False
        assert [r.contact_id for r in results] == [u.contact_id for u in updates]
        assert results[3] == WriteResult(
            "003BAD",
            ok=False,
            error_code="INVALID_EMAIL_ADDRESS",
            message="not a valid email address",
            fields=("Email",),
            values={"Email": "nope"},
        )

    def test_a_stream_yields_each_call_s_results_before_a_later_call_fails(self) -> None:
        org = Org()
        answers = [saved, lambda r: sf_error(403, "REQUEST_LIMIT_EXCEEDED")]
        org.route("PATCH", "/composite/sobjects", lambda r: answers.pop(0)(r))
        updates = [ContactUpdate(f"003{n:015d}", {"FirstName": "A"}) for n in range(250)]
        stream = gateway(org).update_contacts_streamed(["FirstName"], [updates])
        received = list(itertools.islice(stream, 200))
        assert [r.contact_id for r in received] == [u.contact_id for u in updates[:200]]
        assert all(r.ok for r in received)
        with pytest.raises(SalesforceQuotaExceeded):
            next(stream)

    def test_unknown_and_read_only_fields_are_refused_per_record_without_a_call(self) -> None:
        org = Org()
        collections(org)
        results = gateway(org).update_contacts(
            [
                ContactUpdate("003A", {"Nope__c": 1}),
                ContactUpdate("003B", {"Name": "x"}),
                ContactUpdate("003C", {"FirstName": "ok"}),
            ]
        )
        assert [(r.ok, r.error_code, r.fields) for r in results] == [
            (False, "INVALID_FIELD", ("Nope__c",)),
            (False, "INVALID_FIELD_FOR_INSERT_UPDATE", ("Name",)),
            (True, None, ()),
        ]
        sent = json.loads([r for r in org.requests if r.method == "PATCH"][0].content)
        assert [r["id"] for r in sent["records"]] == ["003C"]


def ingest_job(org: Org, processed: int = 0, failed: int = 0) -> None:
    """An ingest job that ends JobComplete with these counts."""
    org.route(
        "POST",
        "/jobs/ingest",
        lambda r: httpx.Response(200, json={"id": "750I", "state": "Open"}),
    )
    org.route("PUT", "/jobs/ingest/750I/batches", lambda r: httpx.Response(201))
    org.route(
        "PATCH",
        "/jobs/ingest/750I",
        lambda r: httpx.Response(200, json={"id": "750I", "state": "UploadComplete"}),
    )
    done = {
        "id": "750I",
        "state": "JobComplete",
        "numberRecordsProcessed": processed,
        "numberRecordsFailed": failed,
    }
    org.route("GET", "/jobs/ingest/750I", lambda r: httpx.Response(200, json=done))


def result_reads(org: Org) -> list[str]:
    return [r.url.path.rsplit("/", 1)[1] for r in org.requests if "/750I/" in r.url.path]


class TestBulkIngest:
    def test_refused_and_unprocessed_rows_are_read_and_the_rest_was_accepted(self) -> None:
        org = Org()
        ingest_job(org, processed=3, failed=1)
        org.route(
            "GET",
            "/failedResults",
            lambda r: httpx.Response(
                200,
                text='"sf__Id","sf__Error","Id","FirstName"\n'
                '"","UNABLE_TO_LOCK_ROW:unable to obtain exclusive access:--","003B","y"\n',
            ),
        )
        org.route(
            "GET",
            "/unprocessedrecords",
            lambda r: httpx.Response(200, text='"Id","FirstName"\n"003C","z"\n'),
        )
        updates = [ContactUpdate(i, {"FirstName": "v"}) for i in ("003A", "003B", "003C", "003D")]
        results = gateway(org, bulk_write_threshold=2).update_contacts(updates)
        assert [(r.contact_id, r.ok, r.error_code) for r in results] == [
            ("003A", True, None),
            ("003B", False, "UNABLE_TO_LOCK_ROW"),
            ("003C", False, "UNPROCESSED"),
            ("003D", True, None),
        ]
        assert result_reads(org) == ["batches", "failedResults", "unprocessedrecords"]
        upload = next(r for r in org.requests if r.method == "PUT")
        assert upload.headers["Content-Type"] == "text/csv"

    def test_a_job_without_refusals_reads_no_result_set(self) -> None:
        org = Org()
        ingest_job(org, processed=3)
        updates = [ContactUpdate(i, {"FirstName": "v"}) for i in ("003A", "003B", "003C")]
        results = gateway(org, bulk_write_threshold=2).update_contacts(updates)
        assert [(r.contact_id, r.ok) for r in results] == [(u.contact_id, True) for u in updates]
        assert result_reads(org) == ["batches"]
        assert len(org.requests) == 5  # describe, create, upload, close, one poll

    @pytest.mark.parametrize(
        ("processed", "failed", "which"),
        [(2, 1, "failedResults"), (1, 0, "unprocessedrecords")],
    )
    def test_a_result_set_shorter_than_counted_accepts_nothing_more(
        self, processed: int, failed: int, which: str
    ) -> None:
        org = Org()
        ingest_job(org, processed=processed, failed=failed)
        org.route("GET", f"/{which}", lambda r: httpx.Response(200, text='"Id","FirstName"\n'))
        updates = [ContactUpdate(i, {"FirstName": "v"}) for i in ("003A", "003B")]
        streamed = gateway(org, bulk_write_threshold=1).update_contacts_streamed(
            ["FirstName"], [updates]
        )
        with pytest.raises(SalesforceIncompleteRead, match="0 of the 1 rows"):
            next(streamed)

    def test_the_upload_leaves_absent_fields_blank_and_nulls_as_na(self) -> None:
        org = Org()
        ingest_job(org, processed=2)
        updates = [
            ContactUpdate("003A", {"FirstName": None, "gq_import__c": True}),
            ContactUpdate("003B", {"Email": 'a,"b"'}),
        ]
        fields = ["FirstName", "gq_import__c", "Email"]
        list(gateway(org, bulk_write_threshold=1).update_contacts_streamed(fields, [updates]))
        upload = next(r for r in org.requests if r.method == "PUT")
        rows = list(csv.reader(io.StringIO(upload.content.decode())))
        assert rows == [
            ["Id", "FirstName", "gq_import__c", "Email"],
            ["003A", "#N/A", "true", ""],
            ["003B", "", "", 'a,"b"'],
        ]
        assert upload.headers["Content-Length"] == str(len(upload.content))

    def test_results_carry_the_values_sent_as_wire_values(self) -> None:
        org = Org()
        ingest_job(org, processed=3, failed=1)
        org.route(
            "GET",
            "/failedResults",
            lambda r: httpx.Response(
                200,
                text='"sf__Id","sf__Error","Id","FirstName","gq_import__c"\n'
                '"","STRING_TOO_LONG:too long:FirstName --","003C","line 1\nline 2",""\n',
            ),
        )
        updates = [
            ContactUpdate("003A", {"FirstName": None, "gq_import__c": True}),
            ContactUpdate("003B", {"FirstName": 'x,y\n"z"'}),
            ContactUpdate("003C", {"FirstName": "line 1\nline 2"}),
        ]
        fields = ["FirstName", "gq_import__c"]
        streamed = gateway(org, bulk_write_threshold=1).update_contacts_streamed(fields, [updates])
        assert {r.contact_id: (r.ok, r.values) for r in streamed} == {
            "003A": (True, {"FirstName": None, "gq_import__c": True}),
            "003B": (True, {"FirstName": 'x,y\n"z"'}),
            "003C": (False, {"FirstName": "line 1\nline 2"}),
        }

    def test_a_stream_under_the_threshold_goes_by_collections(self) -> None:
        org = Org()
        collections(org)
        pages = [[ContactUpdate("003A", {"FirstName": "A"})], [ContactUpdate("003B", {})]]
        results = list(gateway(org).update_contacts_streamed(["FirstName"], pages))
        assert [r.values for r in results] == [{"FirstName": "A"}, {}]
        assert [r.method for r in org.requests if r.method != "GET"] == ["PATCH"]
