import pytest

from sfsync.domain.errors import CoercionError
from sfsync.domain.model import FieldInfo, FieldType
from sfsync.domain.stored_values import stored_reader
from sfsync.services import import_plan
from sfsync.services.import_plan import remembered


def counting(read):
    calls = []

    def wrapped(raw):
        calls.append(raw)
        return read(raw)

    return wrapped, calls


def test_a_text_value_is_read_once_then_remembered():
    read, calls = counting(stored_reader(FieldInfo("D__c", FieldType.DATE)))
    fast = remembered(read)
    assert [fast("2024-02-29") for _ in range(3)] == ["2024-02-29"] * 3
    assert calls == ["2024-02-29"]


def test_lists_come_back_as_fresh_copies():
    fast = remembered(stored_reader(FieldInfo("M__c", FieldType.MULTIPICKLIST)))
    first = fast("A;B")
    first.append("mutated")
    assert fast("A;B") == ["A", "B"]


def test_a_bad_value_fails_every_time_and_other_types_are_not_remembered():
    read, calls = counting(stored_reader(FieldInfo("N__c", FieldType.DOUBLE)))
    fast = remembered(read)
    for _ in range(2):
        with pytest.raises(CoercionError):
            fast("not a number")
    assert fast(1.5) == fast(1.5) == 1.5
    assert calls == ["not a number", "not a number", 1.5, 1.5]


def test_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(import_plan, "MEMO_SIZE", 2)
    read, calls = counting(stored_reader(FieldInfo("S__c", FieldType.STRING)))
    fast = remembered(read)
    for raw in ["a", "b", "c", "c", "a"]:
        assert fast(raw) == raw
    assert calls == ["a", "b", "c", "c"]  # "c" came after the memo was full
