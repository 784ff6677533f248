"""Describe and /limits as a real org answers them (issue 11: differences found by hand)."""

from __future__ import annotations

import time
from email.utils import formatdate

import httpx
from simple_salesforce import Salesforce

from sfsync_emulator.harness import Emulator


def _fields(sf: Salesforce) -> dict[str, dict]:
    return {f["name"]: f for f in sf.Contact.describe()["fields"]}


def _http_date(seconds: float) -> str:
    return formatdate(seconds, usegmt=True)


def test_custom_number_field_describes_as_double_with_precision_and_scale(
    sf: Salesforce,
) -> None:
    """A custom Number(3, 0) is `double`/`xsd:double`, never `int`."""
    age = _fields(sf)["Age__c"]
    assert (age["type"], age["soapType"]) == ("double", "xsd:double")
    assert (age["precision"], age["scale"], age["digits"]) == (3, 0, 0)


def test_id_and_reference_fields_describe_byte_length_18(sf: Salesforce) -> None:
    """Ids are ASCII: 18 characters are 18 bytes, for the Id and for every lookup."""
    fields = _fields(sf)
    for name in ("Id", "OwnerId", "AccountId", "Referred_By__c", "CreatedById"):
        assert (fields[name]["length"], fields[name]["byteLength"]) == (18, 18), name
    assert fields["Email"]["byteLength"] == 240  # other text: 3 bytes a character


def test_geocode_accuracy_picklists_hold_salesforce_values(sf: Salesforce) -> None:
    """Both address geocode-accuracy picklists offer Salesforce's eleven values."""
    expected = [
        "Address",
        "NearAddress",
        "Block",
        "Street",
        "ExtendedZip",
        "Zip",
        "Neighborhood",
        "City",
        "County",
        "State",
        "Unknown",
    ]
    fields = _fields(sf)
    for name in ("MailingGeocodeAccuracy", "OtherGeocodeAccuracy"):
        assert [p["value"] for p in fields[name]["picklistValues"]] == expected, name


def test_limits_count_bulk_query_jobs_and_ingest_batches(sf: Salesforce, org: Emulator) -> None:
    """Each Bulk 2.0 query job takes one DailyBulkV2QueryJobs; ingest takes batches of 10k."""
    org.reset(contacts=25_000)
    before = sf.limits()
    list(sf.bulk2.Contact.query("SELECT Id FROM Contact", wait=0.05))
    list(sf.bulk2.Contact.query("SELECT Email FROM Contact", wait=0.05))
    ids = [r["Id"] for r in sf.query_all("SELECT Id FROM Contact")["records"]]
    sf.bulk2.Contact.update(records=[{"Id": i, "Title": "x"} for i in ids[:3]], wait=0.05)
    sf.bulk2.Contact.update(records=[{"Id": i, "Title": "y"} for i in ids[:20_001]], wait=0.05)
    after = sf.limits()
    jobs = "DailyBulkV2QueryJobs"
    assert before[jobs]["Remaining"] - after[jobs]["Remaining"] == 2
    batches = "DailyBulkApiBatches"
    assert before[batches]["Remaining"] - after[batches]["Remaining"] == 1 + 3
    assert after[batches]["Max"] == 15_000 and after[jobs]["Max"] == 10_000
    org.reset()
    assert sf.limits()[jobs]["Remaining"] == 10_000


def test_describe_honours_if_modified_since(api: httpx.Client, org: Emulator) -> None:
    """304 with no body while the metadata is unchanged; a field change answers 200 again."""
    time.sleep(1.05 - time.time() % 1)  # the reset's metadata stamp is in a past second
    since = {"If-Modified-Since": _http_date(time.time())}
    for path in ("/sobjects/Contact/describe", "/sobjects"):
        unchanged = api.get(path, headers=since)
        assert (unchanged.status_code, unchanged.content) == (304, b""), path
    old = {"If-Modified-Since": _http_date(time.time() - 86_400)}
    assert api.get("/sobjects/Contact/describe", headers=old).status_code == 200
    org.admin.add_field("Shoe_Size__c", "double", precision=4, scale=1)
    changed = api.get("/sobjects/Contact/describe", headers=since)
    assert changed.status_code == 200
    assert "Shoe_Size__c" in {f["name"] for f in changed.json()["fields"]}


def test_field_security_changes_count_as_metadata_changes(api: httpx.Client, org: Emulator) -> None:
    """Hiding a field changes what describe shows, so it is no longer 304."""
    time.sleep(1.05 - time.time() % 1)
    since = {"If-Modified-Since": _http_date(time.time())}
    assert api.get("/sobjects/Contact/describe", headers=since).status_code == 304
    org.admin.set_field_security(hidden=["Age__c"])
    assert api.get("/sobjects/Contact/describe", headers=since).status_code == 200


def test_a_query_uri_up_to_16384_bytes_is_served_and_a_longer_one_is_414(
    api: httpx.Client,
) -> None:
    """Salesforce serves request URIs up to 16,384 bytes and answers 414 beyond (§3.3)."""

    def query(emails: int) -> httpx.Response:  # each ",'b'" is 10 bytes once URL-encoded
        soql = "SELECT Id FROM Contact WHERE Email IN ('a'" + ",'b'" * emails + ")"
        return api.get("/query", params={"q": soql})

    served = query(1_500)
    assert 14_000 < len(served.request.url.raw_path) <= 16_384
    assert served.status_code == 200, served.text
    refused = query(1_700)
    assert len(refused.request.url.raw_path) > 16_384
    assert refused.status_code == 414
