"""Admin API features other suites rely on: faults, expiry, quota, deletes, request log."""

from __future__ import annotations

import time

import httpx
import pytest

from sfsync_emulator.harness import Emulator

Q = {"q": "SELECT Id FROM Contact LIMIT 1"}


def test_status_fault_hits_next_n_matching_requests(api: httpx.Client, org: Emulator) -> None:
    org.admin.add_fault(status=503, count=2, path="/query", retry_after=1)
    assert api.get("/limits").status_code == 200  # other paths untouched
    first = api.get("/query", params=Q)
    assert first.status_code == 503 and first.headers["Retry-After"] == "1"
    assert first.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert api.get("/query", params=Q).status_code == 503
    assert api.get("/query", params=Q).status_code == 200
    org.admin.add_fault(status=500, count=1, method="PATCH")
    assert api.get("/query", params=Q).status_code == 200


def test_lock_fault_fails_writes(api: httpx.Client, org: Emulator) -> None:
    ids = [
        r["Id"]
        for r in api.get("/query", params={"q": "SELECT Id FROM Contact LIMIT 2"}).json()["records"]
    ]
    org.admin.add_fault(lock=True, count=1)
    locked = api.patch(f"/sobjects/Contact/{ids[0]}", json={"Title": "x"})
    assert locked.status_code == 400 and locked.json()[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    org.admin.add_fault(lock=True, count=1, record_ids=[ids[1]])
    recs = [{"attributes": {"type": "Contact"}, "id": i, "Title": "y"} for i in ids]
    res = api.patch("/composite/sobjects", json={"records": recs}).json()
    assert res[0]["success"] is True
    assert res[1]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"


def test_latency_fault(api: httpx.Client, org: Emulator) -> None:
    org.admin.add_fault(latency_ms=300, count=1, path="/limits")
    started = time.monotonic()
    assert api.get("/limits").status_code == 200
    assert time.monotonic() - started >= 0.3
    org.admin.clear_faults()
    assert org.admin.faults() == []


def test_token_expiry_via_session_lifetime(org: Emulator, raw: httpx.Client) -> None:
    org.admin.set_oauth(session_seconds=1)
    headers = {"Authorization": f"Bearer {org.token()}"}
    assert raw.get("/services/data/v59.0/limits", headers=headers).status_code == 200
    time.sleep(1.1)
    assert raw.get("/services/data/v59.0/limits", headers=headers).status_code == 401


def test_quota_exhaustion(api: httpx.Client, org: Emulator) -> None:
    org.admin.set_quota(max=3, used=0)
    assert [api.get("/limits").status_code for _ in range(4)] == [200, 200, 200, 403]
    assert org.admin.state()["api_used"] == 3


def test_soft_hard_delete_and_undelete(api: httpx.Client, org: Emulator) -> None:
    rid = org.admin.create_contact(LastName="Gone", Email="gone@example.com")
    q = {"q": f"SELECT Id, IsDeleted FROM Contact WHERE Id = '{rid}'"}
    org.admin.delete_contact(rid)
    assert api.get("/queryAll", params=q).json()["records"][0]["IsDeleted"] is True
    org.admin.undelete_contact(rid)
    assert api.get("/query", params=q).json()["totalSize"] == 1
    org.admin.delete_contact(rid, hard=True)
    assert api.get("/queryAll", params=q).json()["totalSize"] == 0
    assert api.get(f"/sobjects/Contact/{rid}").status_code == 404
    start = time.strftime("%Y-%m-%dT%H:%M:00+00:00", time.gmtime(time.time() - 600))
    end = time.strftime("%Y-%m-%dT%H:%M:00+00:00", time.gmtime(time.time() + 120))
    deleted = api.get("/sobjects/Contact/deleted/", params={"start": start, "end": end}).json()
    assert rid in [d["id"] for d in deleted["deletedRecords"]]


def test_request_log(api: httpx.Client, org: Emulator) -> None:
    org.admin.clear_requests()
    api.get("/query", params={"q": "SELECT Id FROM Contact LIMIT 2"})
    api.get("/nope")
    log = org.admin.requests()
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("GET", "/services/data/v59.0/query", 200),
        ("GET", "/services/data/v59.0/nope", 404),
    ]
    assert log[0]["soql"] == "SELECT Id FROM Contact LIMIT 2"
    assert [e["written"] for e in log] == [[], []]
    org.admin.clear_requests()
    assert org.admin.requests() == []


def test_the_request_log_names_the_records_each_write_saved(
    api: httpx.Client, org: Emulator
) -> None:
    a, b = (
        r["Id"]
        for r in api.get("/query", params={"q": "SELECT Id FROM Contact LIMIT 2"}).json()["records"]
    )
    org.admin.clear_requests()
    org.admin.add_fault(lock=True, count=1, record_ids=[b])
    records = [{"attributes": {"type": "Contact"}, "id": i, "Title": "x"} for i in (a, b)]
    api.patch("/composite/sobjects", json={"records": records})
    api.patch(f"/sobjects/Contact/{b}", json={"Title": "y"})
    job = api.post("/jobs/ingest", json={"object": "Contact", "operation": "update"}).json()
    csv = f"Id,Title\n{a},z\n{b},z\n".encode()
    path = f"/jobs/ingest/{job['id']}"
    api.put(f"{path}/batches", content=csv, headers={"Content-Type": "text/csv"})
    api.patch(path, json={"state": "UploadComplete"})
    api.delete(f"/sobjects/Contact/{a}")
    assert [(e["method"], e["written"]) for e in org.admin.requests()] == [
        ("PATCH", [a]),  # b was locked
        ("PATCH", [b]),
        ("POST", []),
        ("PUT", []),
        ("PATCH", [a, b]),
        ("DELETE", [a]),
    ]


def test_modstamp_strictly_increasing_and_settable(api: httpx.Client, org: Emulator) -> None:
    a = org.admin.create_contact(LastName="A")
    b = org.admin.create_contact(LastName="B")
    rows = [org.admin.get_contact(x)["SystemModstamp"] for x in (a, b)]
    assert rows[0] < rows[1]
    org.admin.update_contact(b, SystemModstamp=rows[0].replace("+0000", "Z"))
    soql = f"SELECT Id FROM Contact WHERE SystemModstamp = {rows[0].replace('+0000', 'Z')}"
    assert api.get("/query", params={"q": soql}).json()["totalSize"] == 2
    updated = api.get(
        "/sobjects/Contact/updated/",
        params={
            "start": time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime(time.time() - 600)),
            "end": time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime(time.time() + 120)),
        },
    ).json()
    assert {a, b} <= set(updated["ids"])


def test_custom_field_added(api: httpx.Client, org: Emulator) -> None:
    org.admin.add_field("Shoe_Size__c", "double", precision=4, scale=1)
    rid = api.get("/query", params=Q).json()["records"][0]["Id"]
    assert api.patch(f"/sobjects/Contact/{rid}", json={"Shoe_Size__c": 42.5}).status_code == 204
    soql = "SELECT Id, Shoe_Size__c FROM Contact WHERE Shoe_Size__c > 40"
    assert api.get("/query", params={"q": soql}).json()["records"][0]["Shoe_Size__c"] == 42.5


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic YWRtaW46YWRtaW4=", "Bearer"])
def test_admin_calls_without_the_admin_token_get_401(
    raw: httpx.Client, org: Emulator, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    before = org.admin.state()["contacts"]
    refused = raw.post("/__admin/contacts", json={"LastName": "Intruder"}, headers=headers)
    assert refused.status_code == 401
    assert refused.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    assert raw.get("/__admin/state", headers=headers).status_code == 401
    assert org.admin.state()["contacts"] == before  # the harness sends the token


def test_an_access_token_of_the_data_api_is_not_the_admin_token(
    raw: httpx.Client, org: Emulator
) -> None:
    headers = {"Authorization": f"Bearer {org.token()}"}
    assert raw.post("/__admin/token", json={}, headers=headers).status_code == 401
    assert raw.get("/services/data/v59.0/limits", headers=headers).status_code == 200
