"""SOQL escaping and query building: nothing but checked names and quoted literals get in."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sfsync.adapters.salesforce import soql
from sfsync.adapters.salesforce.errors import SalesforceFieldError
from sfsync.adapters.salesforce.gateway import _field_info
from sfsync.adapters.salesforce.soql import (
    contacts_soql,
    email_soql,
    soql_datetime,
    soql_quote,
)
from sfsync.domain.errors import InvalidFieldName
from sfsync.domain.model import ContactSchema, SyncCursor
from sfsync.domain.ports import ContactQuery
from tests.unit.salesforce.recorded import DESCRIBE

SCHEMA = ContactSchema({f["name"]: _field_info(f) for f in DESCRIBE["fields"]})
_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


def parse_literal(text: str) -> str:
    """A SOQL string-literal reader, as Salesforce documents the escapes."""
    assert text[0] == text[-1] == "'"
    out, i, body = [], 0, text[1:-1]
    while i < len(body):
        char = body[i]
        assert char != "'", "unescaped quote inside the literal"
        if char == "\\":
            nxt = body[i + 1]
            if nxt == "u":
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_UNESCAPE[nxt.lower() if nxt in "NRTBF" else nxt])
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


class TestSoqlQuote:
    @given(st.text())
    def test_any_string_quoted_then_parsed_back_is_the_same(self, value: str) -> None:
        assert parse_literal(soql_quote(value)) == value

    @given(st.text())
    def test_quoted_literal_has_no_unescaped_quote_or_raw_control_char(self, value: str) -> None:
        inner = soql_quote(value)[1:-1]
        without_escapes = re.sub(r"\\(u[0-9a-f]{4}|.)", "", inner)
        assert "'" not in without_escapes and "\\" not in without_escapes
        assert not any(ord(c) < 0x20 for c in inner)

    def test_irish_email_stays_one_literal(self) -> None:
        assert email_soql("o'brien@example.com") == (
            "SELECT Id FROM Contact WHERE Email = 'o\\'brien@example.com'"
        )


class TestQueryBuilding:
    def test_cursor_reads_strictly_after_modstamp_and_id_in_that_order(self) -> None:
        cursor = SyncCursor(datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC), "003A")
        text = contacts_soql(ContactQuery(("Favorite_Color__c",), modified_after=cursor), SCHEMA)
        assert text == (
            "SELECT Id, Email, FirstName, LastName, Name, IsDeleted, SystemModstamp, "
            "Favorite_Color__c FROM Contact WHERE SystemModstamp >= 2024-05-01T12:00:00.123Z AND "
            "(SystemModstamp > 2024-05-01T12:00:00.123Z OR "
            "(SystemModstamp = 2024-05-01T12:00:00.123Z AND Id > '003A')) "
            "ORDER BY SystemModstamp, Id"
        )

    def test_a_settled_window_is_or_ed_with_the_cursor_and_the_flag_still_applies(self) -> None:
        cursor = SyncCursor(datetime(2024, 5, 1, 12, 0, tzinfo=UTC), "003A")
        window = (datetime(2024, 5, 1, 11, 0, tzinfo=UTC), datetime(2024, 5, 1, 11, 55, tzinfo=UTC))
        query = ContactQuery((), cursor, "gq_import__c", recheck=window)
        expected = (
            " WHERE SystemModstamp >= 2024-05-01T11:00:00.000Z AND "
            "(SystemModstamp > 2024-05-01T12:00:00.000Z OR (SystemModstamp = "
            "2024-05-01T12:00:00.000Z AND Id > '003A') OR "
            "(SystemModstamp > 2024-05-01T11:00:00.000Z"
            " AND SystemModstamp <= 2024-05-01T11:55:00.000Z)) AND gq_import__c = true "
        )
        assert expected in contacts_soql(query, SCHEMA)

    def test_flag_and_ids_are_and_ed(self) -> None:
        query = ContactQuery((), flag_field="gq_import__c")
        text = contacts_soql(query, SCHEMA, ids=["003A", "003'B"])
        assert "WHERE gq_import__c = true AND Id IN ('003A', '003\\'B')" in text

    def test_field_names_take_their_canonical_casing(self) -> None:
        assert "favorite_color__c" not in contacts_soql(
            ContactQuery(("favorite_color__c",)), SCHEMA
        )

    @pytest.mark.parametrize("name", ["Name FROM User --", "Email,Id", "Id'", "a b", ""])
    def test_malformed_field_name_is_refused(self, name: str) -> None:
        with pytest.raises(InvalidFieldName):
            contacts_soql(ContactQuery((name,)), SCHEMA)

    def test_unknown_field_is_refused_with_invalid_field(self) -> None:
        with pytest.raises(SalesforceFieldError) as err:
            contacts_soql(ContactQuery(("Hidden__c",)), SCHEMA)
        assert err.value.error_code == "INVALID_FIELD"

    def test_compound_field_is_refused_naming_its_components(self) -> None:
        with pytest.raises(SalesforceFieldError, match="MailingCity, MailingStreet"):
            contacts_soql(ContactQuery(("MailingAddress",)), SCHEMA)

    def test_flag_field_must_be_a_checkbox(self) -> None:
        with pytest.raises(SalesforceFieldError, match="not a checkbox"):
            contacts_soql(ContactQuery((), flag_field="Favorite_Color__c"), SCHEMA)

    def test_datetime_literal_is_utc_with_millis(self) -> None:
        moment = datetime(2024, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1)))
        assert soql_datetime(moment) == "2024-01-01T00:00:00.000Z"

    def test_naive_datetime_is_refused(self) -> None:
        with pytest.raises(ValueError):
            soql_datetime(datetime(2024, 1, 1))


def test_emails_soql_makes_each_email_one_literal() -> None:
    text = soql.emails_soql(["o'b@x.com", "a\\' OR Id != '"], ["Id", "Email"])
    assert text == (
        "SELECT Id, Email FROM Contact WHERE Email IN ('o\\'b@x.com', 'a\\\\\\' OR Id != \\'')"
        " ORDER BY Id"
    )


def test_email_batches_stay_under_the_budget_and_leave_out_impossible_emails() -> None:
    emails = [f"person{n}@example.com" for n in range(500)]
    huge = "x" * 4_001
    batches = list(soql.email_batches([huge, *emails, "é" * 2_000], ["Id", "Email"], 2_000))
    assert [e for b in batches for e in b] == emails
    assert all(len(quote_plus(soql.emails_soql(b, ["Id", "Email"]))) <= 2_000 for b in batches)
    assert 7 <= len(batches) <= 10  # ~30 encoded bytes an email, ~1,950 bytes a query
