"""The message contract's JSON Schemas, shipped inside sfsync as `sfsync.schemas` (data only)."""
