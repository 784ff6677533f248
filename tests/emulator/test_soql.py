"""The SOQL subset: operators, boolean logic, ordering, COUNT(), errors."""

from __future__ import annotations

import httpx
import pytest

from sfsync_emulator.harness import Emulator


def _q(api: httpx.Client, soql: str) -> dict:
    res = api.get("/query", params={"q": soql})
    assert res.status_code == 200, res.text
    return res.json()


@pytest.fixture
def people(org: Emulator) -> list[str]:
    org.reset(contacts=0)
    rows = [
        ("Zoë", "Müller", "zoe@example.com", 30, True),
        ("Sean", "O'Brien", "SEAN@example.com", 41, False),
        ("Ada", "Lovelace", None, None, True),
        ("ada", "Byron", "sean@example.com", 25, False),
    ]
    return [
        org.admin.create_contact(FirstName=f, LastName=last, Email=e, Age__c=a, gq_import__c=g)
        for f, last, e, a, g in rows
    ]


def test_operators_and_logic(api: httpx.Client, people: list[str]) -> None:
    assert _q(api, "SELECT COUNT() FROM Contact")["totalSize"] == 4
    assert _q(api, "SELECT Id FROM Contact WHERE Email = 'sean@EXAMPLE.com'")["totalSize"] == 2
    assert _q(api, "SELECT Id FROM Contact WHERE Email = null")["totalSize"] == 1
    assert (
        _q(api, "SELECT Id FROM Contact WHERE Age__c >= 30 AND gq_import__c = TRUE")["totalSize"]
        == 1
    )
    assert (
        _q(api, "SELECT Id FROM Contact WHERE NOT (Age__c < 30 OR Email = null)")["totalSize"] == 2
    )
    assert _q(api, "SELECT Id FROM Contact WHERE LastName IN ('müller', 'Byron')")["totalSize"] == 2
    assert _q(api, "SELECT Id FROM Contact WHERE LastName NOT IN ('Müller')")["totalSize"] == 3
    assert _q(api, "SELECT Id FROM Contact WHERE LastName LIKE 'o\\'b%'")["totalSize"] == 1
    assert _q(api, "SELECT Id FROM Contact WHERE Age__c <> 30")["totalSize"] == 3


def test_order_by_and_limit(api: httpx.Client, people: list[str]) -> None:
    rows = _q(
        api, "SELECT FirstName, LastName FROM Contact ORDER BY FirstName ASC, LastName DESC LIMIT 3"
    )["records"]
    assert [(r["FirstName"], r["LastName"]) for r in rows] == [
        ("Ada", "Lovelace"),
        ("ada", "Byron"),
        ("Sean", "O'Brien"),
    ]
    rows = _q(api, "SELECT Age__c FROM Contact ORDER BY Age__c DESC NULLS LAST")["records"]
    assert [r["Age__c"] for r in rows] == [41, 30, 25, None]


def test_errors(api: httpx.Client, people: list[str]) -> None:
    res = api.get("/query", params={"q": "SELECT Id FRM Contact"})
    assert res.json()[0]["errorCode"] == "MALFORMED_QUERY"
    assert "ERROR at Row:1:Column:11" in res.json()[0]["message"]
    res = api.get("/query", params={"q": "SELECT Id FROM Account"})
    assert res.json()[0]["errorCode"] == "INVALID_TYPE"
    res = api.get("/query", params={"q": "SELECT Id FROM Contact WHERE Age__c = '3'"})
    assert res.json()[0]["errorCode"] == "INVALID_FIELD"
