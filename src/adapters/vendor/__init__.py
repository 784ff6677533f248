"""Vendor mode: an org's Contacts read through a unified-CRM API vendor (Merge's CRM API)."""
