"""sfsync: keeps research candidates and a Salesforce org in sync."""

__version__ = "0.1.0"
