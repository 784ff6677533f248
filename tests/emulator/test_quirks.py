"""One test per quirk of reference §11 (/work/shared/salesforce-api.md)."""

from __future__ import annotations

import csv
import re

import httpx

from sfsync_emulator.harness import Emulator

DT_REST = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
DT_CSV = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def _first_ids(api: httpx.Client, n: int) -> list[str]:
    rows = api.get("/query", params={"q": f"SELECT Id FROM Contact LIMIT {n}"}).json()
    return [r["Id"] for r in rows["records"]]


def _bulk_query(api: httpx.Client, soql: str, operation: str = "query") -> str:
    job = api.post("/jobs/query", json={"operation": operation, "query": soql})
    assert job.status_code == 200, job.text
    return job.json()["id"]


def _ingest(api: httpx.Client, csv_text: str, operation: str = "update") -> str:
    job = api.post(
        "/jobs/ingest",
        json={
            "object": "Contact",
            "operation": operation,
            "contentType": "CSV",
            "lineEnding": "LF",
        },
    ).json()
    put = api.put(
        f"/jobs/ingest/{job['id']}/batches",
        content=csv_text.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert put.status_code == 201 and put.content == b""
    api.patch(f"/jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    return job["id"]


def test_quirk_01_three_error_shapes(api: httpx.Client, raw: httpx.Client) -> None:
    bad = api.get("/query", params={"q": "SELECT Nope__c FROM Contact"})
    assert bad.status_code == 400
    assert list(bad.json()[0]) == ["message", "errorCode"]
    assert bad.json()[0]["errorCode"] == "INVALID_FIELD"
    unauth = raw.get("/services/data/v59.0/limits")
    assert unauth.status_code == 401
    assert unauth.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    rid = _first_ids(api, 1)[0]
    coll = api.patch(
        "/composite/sobjects",
        json={"records": [{"attributes": {"type": "Contact"}, "id": rid, "Email": "broken"}]},
    )
    err = coll.json()[0]["errors"][0]
    assert err["statusCode"] == "INVALID_EMAIL_ADDRESS" and err["fields"] == ["Email"]
    oauth = raw.post(
        "/services/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": "nope", "client_id": "x"},
    )
    assert oauth.status_code == 400
    assert set(oauth.json()) == {"error", "error_description"}


def test_quirk_02_next_records_url_is_a_hostless_query_path(api: httpx.Client) -> None:
    headers = {"Sforce-Query-Options": "batchSize=200"}
    soql = "SELECT Id FROM Contact"
    first = api.get("/queryAll", params={"q": soql}, headers=headers).json()
    assert first["done"] is False and len(first["records"]) == 200
    url = first["nextRecordsUrl"]
    assert url.startswith("/services/data/v59.0/query/01g") and url.endswith("-200")
    seen = [r["Id"] for r in first["records"]]
    while "nextRecordsUrl" in first:  # taps re-send ?q= on continuations: ignored
        first = api.get(
            first["nextRecordsUrl"].removeprefix("/services/data/v59.0"),
            params={"q": "garbage"},
            headers=headers,
        ).json()
        seen += [r["Id"] for r in first["records"]]
    assert first["done"] is True and "nextRecordsUrl" not in first
    assert len(seen) == len(set(seen)) == 5000


def test_quirk_03_rest_value_formats(api: httpx.Client, org: Emulator) -> None:
    rid = org.admin.create_contact(LastName="Null", Hobbies__c="Chess;Music")
    soql = f"select id, EMAIL, systemmodstamp, hobbies__c, Age__c from contact where id = '{rid}'"
    rec = api.get("/query", params={"q": soql}).json()["records"][0]
    assert list(rec) == ["attributes", "Id", "Email", "SystemModstamp", "Hobbies__c", "Age__c"]
    assert DT_REST.match(rec["SystemModstamp"])
    assert rec["Email"] is None and rec["Age__c"] is None
    assert rec["Hobbies__c"] == "Chess;Music"


def test_quirk_04_unquoted_datetime_literals_and_escapes(api: httpx.Client, org: Emulator) -> None:
    org.admin.create_contact(LastName="O'Brien\\Zoë", SystemModstamp="2030-01-01T00:00:00Z")
    for literal in (
        "2029-12-31T23:59:59Z",
        "2029-12-31T23:59:59.000+00:00",
        "2030-01-01T00:59:59.999999+01:00",
        "2029-12-31T15:59:59.5-08:00",
    ):
        soql = f"SELECT Id FROM Contact WHERE SystemModstamp > {literal}"
        assert api.get("/query", params={"q": soql}).json()["totalSize"] == 1, literal
    soql = "SELECT LastName FROM Contact WHERE LastName = 'o\\'brien\\\\zoë'"
    assert api.get("/query", params={"q": soql}).json()["records"][0]["LastName"] == "O'Brien\\Zoë"
    quoted = api.get(
        "/query",
        params={"q": "SELECT Id FROM Contact WHERE SystemModstamp > '2029-12-31T23:59:59Z'"},
    )
    assert quoted.status_code == 400 and quoted.json()[0]["errorCode"] == "INVALID_FIELD"


def test_quirk_05_query_hides_deleted_query_all_shows_them(
    api: httpx.Client, org: Emulator
) -> None:
    rid = _first_ids(api, 1)[0]
    before = api.get(f"/sobjects/Contact/{rid}").json()["SystemModstamp"]
    assert api.delete(f"/sobjects/Contact/{rid}").status_code == 204
    soql = f"SELECT Id, IsDeleted, SystemModstamp FROM Contact WHERE Id = '{rid}'"
    assert api.get("/query", params={"q": soql}).json()["totalSize"] == 0
    row = api.get("/queryAll", params={"q": soql}).json()["records"][0]
    assert row["IsDeleted"] is True and row["SystemModstamp"] > before


def test_quirk_06_bulk_results_headers(api: httpx.Client) -> None:
    job = _bulk_query(api, "SELECT Id FROM Contact")
    first = api.get(f"/jobs/query/{job}/results", params={"maxRecords": 3000})
    assert first.headers["Sforce-NumberOfRecords"] == "3000"
    last = api.get(
        f"/jobs/query/{job}/results",
        params={"maxRecords": 3000, "locator": first.headers["Sforce-Locator"]},
    )
    assert last.headers["Sforce-NumberOfRecords"] == "2000"
    assert last.headers["Sforce-Locator"] == "null"


def test_quirk_07_each_bulk_page_is_a_full_quoted_csv(api: httpx.Client, org: Emulator) -> None:
    org.reset(contacts=10)
    org.admin.create_contact(LastName='Say "hi", ok', Email=None, gq_import__c=True)
    job = _bulk_query(
        api,
        "SELECT Id, LastName, Email, gq_import__c, SystemModstamp "
        "FROM Contact ORDER BY SystemModstamp DESC",
    )
    page = api.get(f"/jobs/query/{job}/results", params={"maxRecords": 4})
    lines = page.text.splitlines()
    assert lines[0] == '"Id","LastName","Email","gq_import__c","SystemModstamp"'
    assert re.fullmatch(r'"003\w{15}","Say ""hi"", ok","","true","[^"]+"', lines[1])
    assert DT_CSV.match(next(csv.reader([lines[1]]))[4])
    loc = page.headers["Sforce-Locator"]
    again = [
        api.get(f"/jobs/query/{job}/results", params={"maxRecords": 4, "locator": loc})
        for _ in range(2)
    ]
    assert again[0].text == again[1].text and again[0].text.startswith('"Id"')


def test_quirk_08_bulk_job_lifecycle_codes(api: httpx.Client) -> None:
    created = api.post(
        "/jobs/query", json={"operation": "query", "query": "SELECT Id FROM Contact"}
    )
    assert created.status_code == 200 and created.json()["state"] == "UploadComplete"
    job = created.json()["id"]
    assert job.startswith("750")
    assert api.get(f"/jobs/query/{job}").json()["state"] == "JobComplete"
    assert api.delete(f"/jobs/query/{job}").status_code == 204
    ingest = api.post("/jobs/ingest", json={"object": "Contact", "operation": "update"}).json()
    assert ingest["state"] == "Open"
    assert ingest["contentUrl"] == f"services/data/v59.0/jobs/ingest/{ingest['id']}/batches"
    put = api.put(
        f"/jobs/ingest/{ingest['id']}/batches",
        content=b"Id\n",
        headers={"Content-Type": "text/csv"},
    )
    assert put.status_code == 201
    closed = api.patch(f"/jobs/ingest/{ingest['id']}", json={"state": "UploadComplete"})
    assert closed.status_code == 200 and closed.json()["state"] == "UploadComplete"
    assert api.get(f"/jobs/ingest/{ingest['id']}").json()["state"] == "JobComplete"
    assert api.delete(f"/jobs/ingest/{ingest['id']}").status_code == 204


def test_quirk_09_ingest_blank_is_unchanged_na_is_null(api: httpx.Client, org: Emulator) -> None:
    a = org.admin.create_contact(LastName="A", Title="Keep", Department="Drop")
    b = org.admin.create_contact(LastName="B")
    job = _ingest(api, f"Id,Title,Department,Email\n{a},,#N/A,a@example.com\n{b},,,bad\n")
    info = api.get(f"/jobs/ingest/{job}").json()
    assert info["state"] == "JobComplete" and info["numberRecordsFailed"] == 1
    row = org.admin.get_contact(a)
    assert (row["Title"], row["Department"], row["Email"]) == ("Keep", None, "a@example.com")
    ok = api.get(f"/jobs/ingest/{job}/successfulResults/").text.splitlines()
    assert ok == [
        '"sf__Id","sf__Created","Id","Title","Department","Email"',
        f'"{a}","false","{a}","","#N/A","a@example.com"',
    ]
    failed = api.get(f"/jobs/ingest/{job}/failedResults/").text.splitlines()
    assert failed[0] == '"sf__Id","sf__Error","Id","Title","Department","Email"'
    assert failed[1].startswith(f'"{b}","INVALID_EMAIL_ADDRESS:')
    assert api.get(f"/jobs/ingest/{job}/unprocessedrecords/").status_code == 200


def test_quirk_10_field_level_security(api: httpx.Client, org: Emulator) -> None:
    org.admin.set_field_security(hidden=["Age__c"], read_only=["Title"])
    names = {f["name"] for f in api.get("/sobjects/Contact/describe").json()["fields"]}
    assert "Age__c" not in names and "Title" in names
    q = api.get("/query", params={"q": "SELECT Age__c FROM Contact"})
    assert q.json()[0]["errorCode"] == "INVALID_FIELD"
    rid = _first_ids(api, 1)[0]
    hidden = api.patch(f"/sobjects/Contact/{rid}", json={"Age__c": 3})
    assert hidden.status_code == 400 and hidden.json()[0]["errorCode"] == "INVALID_FIELD"
    ro = api.patch(f"/sobjects/Contact/{rid}", json={"Title": "x"})
    assert ro.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert ro.json()[0]["fields"] == ["Title"]


def test_quirk_11_describe_vocabulary_and_compound_address(api: httpx.Client) -> None:
    allowed = {
        "string",
        "boolean",
        "datetime",
        "date",
        "address",
        "id",
        "reference",
        "picklist",
        "multipicklist",
        "textarea",
        "email",
        "phone",
        "url",
        "int",
        "double",
        "currency",
        "percent",
    }
    fields = api.get("/sobjects/Contact/describe").json()["fields"]
    assert {f["type"] for f in fields} <= allowed
    rec = api.get("/queryAll", params={"q": "SELECT MailingAddress FROM Contact LIMIT 1"})
    assert set(rec.json()["records"][0]["MailingAddress"]) >= {"city", "street", "postalCode"}
    bulk = api.post(
        "/jobs/query",
        json={"operation": "queryAll", "query": "SELECT Id, MailingAddress FROM Contact"},
    )
    assert bulk.status_code == 400 and "compound" in bulk.json()[0]["message"]


def test_quirk_12_version_handling(raw: httpx.Client, org: Emulator) -> None:
    auth = {"Authorization": f"Bearer {org.token()}"}
    for version in ("57.0", "61.0", "66.0"):
        ok = raw.get(f"/services/data/v{version}/limits/", headers=auth)
        assert ok.status_code == 200, version
    assert raw.get("/services/data/v25.0/limits", headers=auth).status_code == 410
    for bad in ("v38", "v99.0", "v59.1", "59.0"):
        gone = raw.get(f"/services/data/{bad}/limits", headers=auth)
        assert gone.status_code == 404 and gone.json()[0]["errorCode"] == "NOT_FOUND"
    job = raw.post(
        "/services/data/v59.0/jobs/ingest/",
        headers=auth,
        json={"object": "Contact", "operation": "update"},
    ).json()["id"]
    unprocessed = raw.get(
        f"/services/data/v59.0/jobs/ingest/{job}/unprocessedRecords/", headers=auth
    )
    assert unprocessed.status_code == 200


def test_quirk_13_limit_info_header_and_quota(
    api: httpx.Client, raw: httpx.Client, org: Emulator
) -> None:
    assert "Sforce-Limit-Info" not in raw.get("/services/data/").headers
    first = api.get("/sobjects")
    assert re.fullmatch(r"api-usage=\d+/100000", first.headers["Sforce-Limit-Info"])
    limits = api.get("/limits").json()
    assert {"DailyApiRequests", "DailyBulkApiBatches", "DailyBulkV2QueryJobs"} <= set(limits)
    org.admin.set_quota(max=10, used=9)
    assert api.get("/limits").headers["Sforce-Limit-Info"] == "api-usage=10/10"
    refused = api.get("/limits")
    assert refused.status_code == 403
    assert refused.json() == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]


def test_quirk_14_oauth_token_response(raw: httpx.Client, org: Emulator) -> None:
    refresh = org.admin.mint_token(refresh=True)["refresh_token"]
    body = raw.post(
        "/services/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": org.client_id,
            "client_secret": org.client_secret,
        },
    ).json()
    assert body["issued_at"].isdigit() and len(body["issued_at"]) == 13
    assert body["instance_url"] == org.base_url and "refresh_token" not in body
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    assert raw.get("/services/data/v59.0/limits", headers=auth).status_code == 200
    org.admin.expire_tokens()
    expired = raw.get("/services/data/v59.0/limits", headers=auth)
    assert expired.status_code == 401 and expired.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    assert raw.post("/services/oauth2/revoke", data={"token": refresh}).status_code == 200
    assert raw.post("/services/oauth2/revoke", data={"token": refresh}).status_code == 400


def test_quirk_15_sobject_collections(api: httpx.Client) -> None:
    ids = _first_ids(api, 3)
    recs = [
        {"attributes": {"type": "Contact"}, "id": ids[0], "Title": "One"},
        {"attributes": {"type": "Contact"}, "id": ids[1], "Email": "nope"},
        {"attributes": {"type": "Contact"}, "id": ids[2], "Title": "Three"},
    ]
    res = api.patch("/composite/sobjects", json={"allOrNone": False, "records": recs}).json()
    assert [r["success"] for r in res] == [True, False, True]
    assert [r["id"] for r in res] == ids
    recs[0]["Title"] = "Rolled"
    res = api.patch("/composite/sobjects", json={"allOrNone": True, "records": recs}).json()
    assert res[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert api.get(f"/sobjects/Contact/{ids[0]}").json()["Title"] == "One"
    too_many = api.patch("/composite/sobjects", json={"records": recs * 67})
    assert too_many.status_code == 400
    single = api.patch(f"/sobjects/Contact/{ids[0]}", json={"Title": "Solo"})
    assert single.status_code == 204 and single.content == b""


def test_quirk_16_header_names_spelled_like_salesforce(api: httpx.Client) -> None:
    job = _bulk_query(api, "SELECT Id FROM Contact")
    res = api.get(f"/jobs/query/{job}/results", params={"maxRecords": 10})
    names = {name for name, _ in res.headers.raw}
    assert {
        b"Content-Type",
        b"Sforce-Locator",
        b"Sforce-NumberOfRecords",
        b"Sforce-Limit-Info",
    } <= names
    assert b"Content-Type" in {n for n, _ in api.get("/limits").headers.raw}


def test_quirk_17_many_open_cursors(api: httpx.Client) -> None:
    headers = {"Sforce-Query-Options": "batchSize=200"}
    pages = [
        api.get("/query", params={"q": "SELECT Id FROM Contact"}, headers=headers).json()
        for _ in range(25)
    ]
    for page in pages:
        nxt = api.get(page["nextRecordsUrl"].removeprefix("/services/data/v59.0"))
        assert nxt.status_code == 200 and len(nxt.json()["records"]) == 200
    bogus = api.get("/query/01gDn0000000zzzAAA-200")
    assert bogus.status_code == 400 and bogus.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
