"""A Salesforce call's kind, as the metrics count it: the method and the path's template."""

from __future__ import annotations

import pytest

from sfsync.adapters.salesforce.client import call_kind


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("GET", "query", "GET query"),
        ("GET", "queryAll", "GET queryAll"),
        ("GET", "/services/data/v62.0/query/01gD0000002HU6KIAW-2000", "GET query/{id}"),
        ("GET", "sobjects/Contact/describe", "GET sobjects/Contact/describe"),
        ("GET", "sobjects/Contact/deleted/", "GET sobjects/Contact/deleted"),
        ("PATCH", "composite/sobjects", "PATCH composite/sobjects"),
        ("POST", "jobs/ingest", "POST jobs/ingest"),
        ("PUT", "jobs/ingest/7505e00000AbCdE/batches", "PUT jobs/ingest/{id}/batches"),
        ("PATCH", "jobs/ingest/7505e00000AbCdE", "PATCH jobs/ingest/{id}"),
        (
            "GET",
            "jobs/query/750x/results?locator=MTAwMDA&maxRecords=5",
            "GET jobs/query/{id}/results",
        ),
        ("get", "sobjects/Contact/003000000000001AAA", "GET sobjects/Contact/{id}"),
        ("BREW", "/services/apexrest/ada@example.com", "OTHER {id}/{id}/{id}"),
    ],
)
def test_ids_locators_and_query_strings_never_reach_the_kind(method, path, kind):
    assert call_kind(method, path) == kind
