"""Reading Contacts: REST query/queryAll paging and Bulk API 2.0 query jobs, both streamed.

Either way the caller gets `ContactRead(expected, batches)`: pages of at most 2,000 Contacts
produced lazily, so memory stays flat whatever the org size (a Bulk page of `page_records`
rows is the largest thing held). A read that yields fewer rows than Salesforce announced
raises `SalesforceIncompleteRead` instead of ending quietly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import attrs
import httpx

from sfsync.adapters.salesforce.client import SalesforceClient
from sfsync.adapters.salesforce.errors import (
    SalesforceBulkJobFailed,
    SalesforceIncompleteRead,
    SalesforceUnavailable,
)
from sfsync.adapters.salesforce.records import (
    contact_from_json,
    csv_contacts_from_lines,
    lines_of,
)
from sfsync.domain.model import Contact
from sfsync.domain.ports import ContactRead

QUERY_OPTIONS = {"Sforce-Query-Options": "batchSize=2000"}
MAX_URL_BYTES = 16_384


@attrs.frozen
class ReadSettings:
    bulk_threshold: int = 10_000  # rows above which a read switches to Bulk 2.0
    page_records: int = 250_000  # Bulk results per page (streamed): fewer calls, same memory
    poll_initial: float = 0.2  # first Bulk status poll delay; grows x1.5 ...
    poll_max: float = 5.0  # ... up to this
    poll_timeout: float = 3600.0  # give up on a job after this many seconds


def query_url_bytes(client: SalesforceClient, soql: str, include_deleted: bool) -> int:
    """Length of the GET URL a REST query would need (Salesforce refuses > 16,384 bytes)."""
    instance = client.auth.tokens.instance_url if client.auth.tokens else "https://x"
    resource = "queryAll" if include_deleted else "query"
    return len(f"{instance}{client.base_path}/{resource}?{urlencode({'q': soql})}")


def rest_first_page(client: SalesforceClient, soql: str, include_deleted: bool) -> dict[str, Any]:
    resource = "queryAll" if include_deleted else "query"
    return client.json("GET", resource, params={"q": soql}, headers=QUERY_OPTIONS)


def rest_batches(client: SalesforceClient, page: dict[str, Any]) -> Iterator[list[Contact]]:
    """Yield each page, following nextRecordsUrl, then check the total against totalSize."""
    expected, seen = page["totalSize"], 0
    while True:
        records = [contact_from_json(r) for r in page["records"]]
        seen += len(records)
        if records:
            yield records
        next_url = page.get("nextRecordsUrl")
        if page.get("done", True) or not next_url:
            break
        page = client.json("GET", next_url, headers=QUERY_OPTIONS)
    if seen < expected:
        raise SalesforceIncompleteRead(f"query announced {expected} rows but returned {seen}")


def bulk_read(
    client: SalesforceClient, soql: str, include_deleted: bool, settings: ReadSettings
) -> ContactRead:
    """Run a Bulk 2.0 query job to completion, then stream its result pages."""
    job = client.json(
        "POST",
        "jobs/query",
        json={
            "operation": "queryAll" if include_deleted else "query",
            "query": soql,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        },
    )
    done = wait_for_job(client, f"jobs/query/{job['id']}", settings)
    expected = int(done.get("numberRecordsProcessed") or 0)
    return ContactRead(expected, _bulk_batches(client, job["id"], expected, settings))


def wait_for_job(client: SalesforceClient, path: str, settings: ReadSettings) -> dict[str, Any]:
    """Poll a Bulk job with growing delays until JobComplete; Failed/Aborted raise."""
    delay, deadline = settings.poll_initial, time.monotonic() + settings.poll_timeout
    while True:
        job = client.json("GET", path)
        state = job.get("state")
        if state == "JobComplete":
            return job
        if state in ("Failed", "Aborted"):
            # errorMessage is left out: it can quote the SOQL and its literals
            raise SalesforceBulkJobFailed(f"{path} ended {state}", error_code=state)
        if time.monotonic() + delay > deadline:
            raise SalesforceBulkJobFailed(
                f"Bulk job still {state} after the poll timeout", error_code="POLL_TIMEOUT"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, settings.poll_max)


def _bulk_batches(
    client: SalesforceClient, job_id: str, expected: int, settings: ReadSettings
) -> Iterator[list[Contact]]:
    locator, seen = None, 0
    while True:
        params: dict[str, Any] = {"maxRecords": settings.page_records}
        if locator:
            params["locator"] = locator
        response = client.stream(
            "GET", f"jobs/query/{job_id}/results", params=params, headers={"Accept": "text/csv"}
        )
        announced = int(response.headers.get("Sforce-NumberOfRecords", "-1"))
        locator = response.headers.get("Sforce-Locator")
        page_rows = 0
        try:  # streamed: a page of any size costs one batch of memory, not the whole page
            for batch in csv_contacts_from_lines(lines_of(response.iter_text())):
                page_rows += len(batch)
                yield batch
        except httpx.TransportError as err:
            raise SalesforceUnavailable(f"Bulk results broke off ({type(err).__name__})") from err
        finally:
            response.close()
        if 0 <= announced != page_rows:
            raise SalesforceIncompleteRead(f"Bulk page announced {announced} rows, had {page_rows}")
        seen += page_rows
        if not locator or locator == "null":
            break
    if seen < expected:
        raise SalesforceIncompleteRead(f"Bulk job processed {expected} rows but returned {seen}")
