"""Value objects of the sync: Contacts as read from Salesforce, candidates as we keep them."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime, time
from typing import Any, NewType

import attrs

AccountId = NewType("AccountId", str)
SalesforceId = NewType("SalesforceId", str)

# Fields every direct-API read selects (product page), before mapped attributes.
BASE_FIELDS = ("Id", "Email", "FirstName", "LastName", "Name", "IsDeleted")
CURSOR_FIELD = "SystemModstamp"
# What a vendor-mode run records as read: the vendor reads its whole Contact model, and sfsync
# can name only what it asked for (issue 14's HIPAA honesty).
VENDOR_MODEL = "vendor: full Contact model"


class FieldType(enum.StrEnum):
    """Salesforce describe `type` values sfsync understands."""

    ID = "id"
    REFERENCE = "reference"
    STRING = "string"
    TEXTAREA = "textarea"
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"
    PICKLIST = "picklist"
    COMBOBOX = "combobox"
    MULTIPICKLIST = "multipicklist"
    BOOLEAN = "boolean"
    INT = "int"
    LONG = "long"
    DOUBLE = "double"
    CURRENCY = "currency"
    PERCENT = "percent"
    DATE = "date"
    DATETIME = "datetime"
    TIME = "time"
    ADDRESS = "address"
    LOCATION = "location"
    BASE64 = "base64"
    ANYTYPE = "anyType"


COMPOUND_TYPES = frozenset({FieldType.ADDRESS, FieldType.LOCATION})


@attrs.frozen
class FieldInfo:
    """One Contact field as the org's describe reports it (for the running user)."""

    name: str
    type: FieldType
    updateable: bool = False
    nillable: bool = True
    custom: bool = False
    compound_field_name: str | None = None
    picklist_values: tuple[str, ...] = ()  # the active values, in the describe's order
    deprecated_and_hidden: bool = False  # kept in the describe, but not to be used
    length: int = 0  # max characters of a text field; 0: not a text field, or unknown
    precision: int = 0  # total digits of a number field; 0: unknown
    scale: int = 0  # digits after the decimal point of a number field
    restricted_picklist: bool = False  # only `picklist_values` may be saved


@attrs.frozen
class ContactSchema:
    """The Contact describe: fields by exact API name."""

    fields: Mapping[str, FieldInfo]

    def get(self, name: str) -> FieldInfo | None:
        return self.fields.get(name)

    def components_of(self, compound: str) -> tuple[str, ...]:
        """Names of the fields that make up a compound field such as MailingAddress."""
        return tuple(f.name for f in self.fields.values() if f.compound_field_name == compound)


@attrs.frozen
class SyncCursor:
    """Incremental-import watermark: the last (SystemModstamp, Id) committed."""

    modstamp: datetime
    contact_id: SalesforceId


@attrs.frozen
class SyncMarks:
    """How far the sync is known complete, besides the page cursor. None: never."""

    settled_until: datetime | None = None  # every Contact modified up to here has been read
    deletes_checked_until: datetime | None = None  # getDeleted's latestDateCovered
    reconciled_at: datetime | None = None
    fields: tuple[str, ...] | None = None  # the field list the last import read
    # When the full import not finished yet began reading from the first Contact: a later
    # run that carries it on bases the marks on this time. None: no full import pending.
    full_started_at: datetime | None = None


@attrs.frozen
class Contact:
    """A Salesforce Contact as read: base fields typed, every other selected field raw.

    `fields` holds the wire values (JSON from REST, strings from Bulk CSV) keyed by API
    name; the attribute mapping coerces them by the describe type. The repr shows the Id
    and the sync fields, never the personal data.
    """

    id: SalesforceId
    email: str | None = attrs.field(repr=False)
    first_name: str | None = attrs.field(default=None, repr=False)
    last_name: str | None = attrs.field(default=None, repr=False)
    name: str | None = attrs.field(default=None, repr=False)
    is_deleted: bool = False
    system_modstamp: datetime | None = None
    fields: Mapping[str, Any] = attrs.field(factory=dict, repr=False)


class DuplicatePolicy(enum.StrEnum):
    NEWEST = "newest"  # most recently modified Contact wins (default)
    OLDEST = "oldest"  # the Contact linked first keeps the candidate
    REVIEW = "review"  # hold both for a human


class DeletionBehaviour(enum.StrEnum):
    KEEP = "keep"  # today's behaviour: the candidate stays as it is
    DELETE = "delete"  # remove the candidate and its personal data
    UNSUBSCRIBE = "unsubscribe"  # keep, but mark opted out


class MappingDirection(enum.StrEnum):
    """Which way a mapped value flows between the candidate and its Contact."""

    IMPORT = "import"  # Salesforce -> candidate only (the default)
    EXPORT = "export"  # candidate -> Salesforce only
    TWO_WAY = "two_way"  # both; the side that changed last wins


@attrs.frozen
class AttributeMapping:
    """A candidate attribute tied to one Contact field, read, written or both."""

    name: str  # snake_case attribute name, e.g. favorite_color_c
    field: str  # exact Salesforce API name, e.g. Favorite_Color__c
    direction: MappingDirection = MappingDirection.IMPORT

    @property
    def imports(self) -> bool:
        """Whether an import reads this attribute from its Contact."""
        return self.direction is not MappingDirection.EXPORT

    @property
    def exports(self) -> bool:
        """Whether a push writes this attribute to its Contact."""
        return self.direction is not MappingDirection.IMPORT


@attrs.frozen
class AccountSettings:
    """Per-account sync settings (the product page's connect screen, and a few more)."""

    account_id: AccountId
    only_import_tagged: bool = False
    import_flag_field: str = "gq_import__c"
    deletion_field: str | None = "is_deleted__c"
    deletion_behaviour: DeletionBehaviour = DeletionBehaviour.KEEP
    direct_api: bool = True
    push_enabled: bool = False
    signup_flag_enabled: bool = True
    duplicate_policy: DuplicatePolicy = DuplicatePolicy.NEWEST
    unsubscribe_field: str = "HasOptedOutOfEmail"
    quota_share: float = 0.5  # never spend more than this share of the org's daily API calls
    # The daily schedule (docs/scheduler.md): an IANA time zone and two local times.
    time_zone: str = "America/Los_Angeles"
    export_at: time = time(23, 30)
    import_at: time = time(0, 0)


@attrs.frozen
class Candidate:
    """A participant in the research database. Personal data lives here (not in its repr)."""

    id: str
    account_id: AccountId
    email: str = attrs.field(repr=False)
    first_name: str | None = attrs.field(default=None, repr=False)
    last_name: str | None = attrs.field(default=None, repr=False)
    name: str | None = attrs.field(default=None, repr=False)
    salesforce_id: SalesforceId | None = None
    source_modstamp: datetime | None = None
    attributes: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    unsubscribed: bool = False
    needs_review: bool = False
    # Kept by the store (ignored when writing): when each attribute's value last changed,
    # by attribute name; a value with no time came with the candidate (import, sign-up).
    attributes_changed_at: Mapping[str, datetime] = attrs.field(factory=dict, eq=False, repr=False)
    # Kept by the store (ignored when writing): a digest of what a push plans from (the
    # attributes, the unsubscribe and the Contact Id); "" when not read.
    push_basis: str = attrs.field(default="", eq=False, repr=False)
    # Derived once per instance (it is read many times per imported row), not compared.
    email_key: str = attrs.field(
        init=False,
        eq=False,
        repr=False,
        default=attrs.Factory(lambda self: normalize_email(self.email), takes_self=True),
    )


def normalize_email(email: str) -> str:
    """The case-insensitive key two emails are compared by."""
    return email.strip().lower()
