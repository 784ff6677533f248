"""A describe field entry becomes the FieldInfo the mapping check reads."""

from __future__ import annotations

from sfsync.adapters.salesforce.gateway import _field_info
from sfsync.domain.model import FieldType


def entry(**changes: object) -> dict[str, object]:
    return {"name": "Old_Score__c", "type": "double", "custom": True, **changes}


def test_deprecated_and_hidden_is_kept():
    assert _field_info(entry(deprecatedAndHidden=True)).deprecated_and_hidden is True


def test_a_current_field_is_not_deprecated():
    info = _field_info(entry(deprecatedAndHidden=False))
    assert (info.deprecated_and_hidden, info.type) == (False, FieldType.DOUBLE)


def test_an_entry_without_the_key_is_not_deprecated():
    assert _field_info(entry()).deprecated_and_hidden is False
