"""Reading through MockTransport: REST paging, Bulk jobs, CSV parsing, incomplete reads."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from sfsync.adapters.salesforce.errors import SalesforceBulkJobFailed, SalesforceIncompleteRead
from sfsync.adapters.salesforce.reads import ReadSettings
from sfsync.adapters.salesforce.records import csv_contacts
from sfsync.domain.errors import TransientFailure
from sfsync.domain.ports import ContactQuery
from tests.unit.salesforce.recorded import DESCRIBE, Org, gateway, record

NEXT = "/services/data/v62.0/query/01gXX-2000"
CSV_PAGE = (
    '"Id","Email","FirstName","LastName","Name","IsDeleted","SystemModstamp",'
    '"Favorite_Color__c"\n'
    '"003A","a@example.com","","Lovelace","Ada","false","2024-01-01T00:00:00.000Z",'
    '"Red"\n'
    '"003B","","Multi\nLine","Hopper","Grace","true","2024-01-02T00:00:00.000Z",""\n'
)


def two_pages(org: Org, total: int = 3) -> None:
    first = {
        "totalSize": total,
        "done": False,
        "nextRecordsUrl": NEXT,
        "records": [record(1), record(2)],
    }
    org.route("GET", "/query", lambda r: httpx.Response(200, json=first))
    org.route(
        "GET",
        "/query/01gXX-2000",
        lambda r: httpx.Response(
            200, json={"totalSize": total, "done": True, "records": [record(3)]}
        ),
    )


class TestRestPaging:
    def test_pages_are_followed_and_streamed_as_batches(self) -> None:
        org = Org()
        two_pages(org)
        read = gateway(org).read_contacts(ContactQuery(("Favorite_Color__c",)))
        batches = [[c.id for c in b] for b in read.batches]
        assert read.expected == 3
        assert batches == [["003000000000000001", "003000000000000002"], ["003000000000000003"]]
        assert org.requests[1].headers["Sforce-Query-Options"] == "batchSize=2000"

    def test_contact_fields_are_typed_and_others_kept_raw(self) -> None:
        org = Org()
        org.route(
            "GET",
            "/query",
            lambda r: httpx.Response(
                200,
                json={"totalSize": 1, "done": True, "records": [record(1, Favorite_Color__c=None)]},
            ),
        )
        contact = next(gateway(org).read_contacts(ContactQuery(("Favorite_Color__c",))).batches)[0]
        assert contact.system_modstamp == datetime(2024, 1, 1, tzinfo=UTC)
        assert contact.fields == {"Favorite_Color__c": None}
        assert contact.email == "p1@example.com"

    def test_include_deleted_uses_query_all(self) -> None:
        org = Org()
        org.route(
            "GET",
            "/queryAll",
            lambda r: httpx.Response(200, json={"totalSize": 0, "done": True, "records": []}),
        )
        read = gateway(org).read_contacts(ContactQuery((), include_deleted=True))
        assert list(read.batches) == []
        assert org.requests[-1].url.path.endswith("/queryAll")

    def test_fewer_rows_than_announced_raises_a_transient_error(self) -> None:
        org = Org()
        two_pages(org, total=5)
        read = gateway(org).read_contacts(ContactQuery(()))
        with pytest.raises(SalesforceIncompleteRead) as err:
            list(read.batches)
        assert isinstance(err.value, TransientFailure)

    def test_many_ids_are_split_into_short_queries(self) -> None:
        org = Org()
        org.route(
            "GET",
            "/query",
            lambda r: httpx.Response(200, json={"totalSize": 0, "done": True, "records": []}),
        )
        ids = tuple(f"003{n:015d}" for n in range(450))
        list(gateway(org).read_contacts(ContactQuery((), ids=ids)).batches)
        assert len(org.soql()) == 3
        assert all(len(str(r.url)) < 16_384 for r in org.requests)


def bulk_org(pages: list[tuple[str, str, str]], processed: int, states=("InProgress",)) -> Org:
    org = Org()
    org.route(
        "GET",
        "/query",
        lambda r: httpx.Response(
            200,
            json={
                "totalSize": processed,
                "done": False,
                "nextRecordsUrl": NEXT,
                "records": [record(1)],
            },
        ),
    )
    org.route(
        "POST",
        "/jobs/query",
        lambda r: httpx.Response(200, json={"id": "750J", "state": "UploadComplete"}),
    )
    org.script(
        "GET",
        "/jobs/query/750J",
        *[httpx.Response(200, json={"id": "750J", "state": s}) for s in states],
        httpx.Response(
            200, json={"id": "750J", "state": "JobComplete", "numberRecordsProcessed": processed}
        ),
    )
    by_locator = {
        locator: (body, count, nxt)
        for locator, (body, count, nxt) in zip([None, *[p[2] for p in pages]], pages, strict=False)
    }

    def results(request: httpx.Request) -> httpx.Response:
        body, count, nxt = by_locator[request.url.params.get("locator")]
        return httpx.Response(
            200,
            text=body,
            headers={
                "Sforce-NumberOfRecords": count,
                "Sforce-Locator": nxt,
                "Content-Type": "text/csv",
            },
        )

    org.route("GET", "/jobs/query/750J/results", results)
    return org


class TestBulkRead:
    def test_large_read_switches_to_bulk_and_pages_by_locator(self) -> None:
        org = bulk_org([(CSV_PAGE, "2", "MTAw"), (CSV_PAGE, "2", "null")], processed=4)
        read = gateway(org, bulk_threshold=3).read_contacts(ContactQuery(("Favorite_Color__c",)))
        contacts = [c for batch in read.batches for c in batch]
        assert read.expected == 4 and len(contacts) == 4
        job = org.body(2)
        assert job["operation"] == "query" and job["query"].startswith("SELECT Id, Email")
        pages = [r for r in org.requests if r.url.path.endswith("/results")]
        assert [p.url.params.get("locator") for p in pages] == [None, "MTAw"]
        assert pages[0].url.params["maxRecords"] == str(ReadSettings().page_records)

    def test_failed_job_raises_without_salesforce_message(self) -> None:
        org = bulk_org([], processed=5)
        message = "InvalidBatch : Failed to process query: Email = 'ada@example.com' Ada"
        org.script(
            "GET",
            "/jobs/query/750J",
            httpx.Response(200, json={"id": "750J", "state": "Failed", "errorMessage": message}),
        )
        with pytest.raises(SalesforceBulkJobFailed, match="750J ended Failed") as err:
            gateway(org, bulk_threshold=1).read_contacts(ContactQuery(()))
        assert err.value.error_code == "Failed"
        assert "ada@" not in str(err.value) and "Ada" not in str(err.value)

    def test_bulk_pages_short_of_processed_count_raise(self) -> None:
        org = bulk_org([(CSV_PAGE, "2", "null")], processed=3)
        read = gateway(org, bulk_threshold=1).read_contacts(ContactQuery(()))
        with pytest.raises(SalesforceIncompleteRead):
            list(read.batches)

    def test_page_shorter_than_its_record_header_raises(self) -> None:
        org = bulk_org([(CSV_PAGE, "3", "null")], processed=2)
        read = gateway(org, bulk_threshold=1).read_contacts(ContactQuery(()))
        with pytest.raises(SalesforceIncompleteRead):
            list(read.batches)

    def test_field_list_too_long_for_a_url_goes_to_bulk(self) -> None:
        org = bulk_org([(CSV_PAGE, "2", "null")], processed=2)
        many = {"name": "Favorite_Color__c", "type": "string"}
        fields = [dict(many, name=f"Field_{n:04d}_With_A_Long_Name__c") for n in range(600)]
        org.route(
            "GET",
            "/sobjects/Contact/describe",
            lambda r: httpx.Response(200, json={"fields": [*DESCRIBE["fields"], *fields]}),
        )
        names = tuple(f["name"] for f in fields)
        read = gateway(org).read_contacts(ContactQuery(names))
        assert read.expected == 2
        assert not org.soql()  # no GET query was attempted


class TestCsvParsing:
    def test_blank_becomes_none_booleans_and_datetimes_are_typed(self) -> None:
        first, second = next(csv_contacts(CSV_PAGE))
        assert first.first_name is None and first.fields == {"Favorite_Color__c": "Red"}
        assert second.email is None and second.is_deleted is True
        assert second.first_name == "Multi\nLine"
        assert second.system_modstamp == datetime(2024, 1, 2, tzinfo=UTC)

    def test_rows_come_in_batches_of_the_given_size(self) -> None:
        assert [len(b) for b in csv_contacts(CSV_PAGE, batch_size=1)] == [1, 1]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 10_000])
def test_streamed_csv_parses_the_same_however_the_chunks_fall(size: int) -> None:
    from sfsync.adapters.salesforce.records import csv_contacts_from_lines, lines_of

    text = (
        '"Id","Email","Notes__c"\n"003000000000001AAA","a@x.com","line one\nline ""two"""\n'
        '"003000000000002AAA","",""\n'
    )
    chunks = [text[i : i + size] for i in range(0, len(text), size)]
    streamed = [c for batch in csv_contacts_from_lines(lines_of(chunks)) for c in batch]
    assert streamed == [c for batch in csv_contacts(text) for c in batch]
    assert streamed[0].fields["Notes__c"] == 'line one\nline "two"'
