"""Mapping direction: which way a mapped value flows."""

from __future__ import annotations

import pytest

from sfsync.domain.model import AttributeMapping, MappingDirection


class TestMappingDirection:
    def test_a_mapping_imports_by_default(self):
        """A mapping made before directions existed keeps reading from Salesforce only."""
        mapping = AttributeMapping("color_c", "Color__c")
        assert mapping.direction is MappingDirection.IMPORT
        assert (mapping.imports, mapping.exports) == (True, False)

    @pytest.mark.parametrize(
        ("direction", "imports", "exports"),
        [
            (MappingDirection.IMPORT, True, False),
            (MappingDirection.EXPORT, False, True),
            (MappingDirection.TWO_WAY, True, True),
        ],
    )
    def test_each_direction_says_which_way_values_flow(self, direction, imports, exports):
        mapping = AttributeMapping("color_c", "Color__c", direction)
        assert (mapping.imports, mapping.exports) == (imports, exports)

    def test_directions_are_stored_by_their_plain_names(self):
        assert [d.value for d in MappingDirection] == ["import", "export", "two_way"]
        assert MappingDirection("two_way") is MappingDirection.TWO_WAY
