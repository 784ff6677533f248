"""Contact field definitions: the standard fields of reference §5.5 plus custom fields."""

from __future__ import annotations

from typing import Any

from attrs import define, field

TEXT_TYPES = frozenset(
    {"string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox"}
)
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})
ID_TYPES = frozenset({"id", "reference"})
COMPOUND_TYPES = frozenset({"address"})
# The real describe vocabulary (reference §5.4); anything else is refused.
KNOWN_TYPES = (
    TEXT_TYPES
    | NUMBER_TYPES
    | ID_TYPES
    | COMPOUND_TYPES
    | {
        "boolean",
        "date",
        "datetime",
        "time",
        "long",
        "base64",
        "anyType",
        "location",
    }
)
SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "long": "xsd:long",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "time": "xsd:time",
    "address": "urn:address",
    "location": "urn:location",
    "base64": "xsd:base64Binary",
    "anyType": "xsd:anyType",
}


@define
class Field:
    name: str
    type: str
    label: str = ""
    length: int = 0
    nillable: bool = True
    updateable: bool = True
    createable: bool = True
    custom: bool = False
    filterable: bool = True
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    precision: int = 0
    scale: int = 0
    digits: int = 0
    compound: str | None = None  # compoundFieldName of a component field
    extra: str | None = None  # extraTypeInfo
    name_field: bool = False
    id_lookup: bool = False
    default: Any = None
    formula: str | None = None  # a formula field: calculated, never written (not evaluated)
    parts: tuple[str, ...] = field(factory=tuple)  # components of a compound field

    def __attrs_post_init__(self) -> None:
        if not self.label:
            self.label = self.name.removesuffix("__c").replace("_", " ")
        if self.formula:
            self.updateable = self.createable = False
        if self.type == "boolean":
            self.nillable = False
            if self.default is None:
                self.default = False

    @property
    def is_text(self) -> bool:
        return self.type in TEXT_TYPES


def _s(name: str, length: int, **kw: Any) -> Field:
    return Field(name, "string", length=length, **kw)


def _ro(name: str, type_: str, **kw: Any) -> Field:
    return Field(name, type_, updateable=False, createable=False, **kw)


# Salesforce's values for MailingGeocodeAccuracy / OtherGeocodeAccuracy, most precise first.
GEOCODE_ACCURACY = (
    "Address",
    "NearAddress",
    "Block",
    "Street",
    "ExtendedZip",
    "Zip",
    "Neighborhood",
    "City",
    "County",
    "State",
    "Unknown",
)


def _address(prefix: str) -> list[Field]:
    comp = f"{prefix}Address"
    parts = [
        Field(f"{prefix}Street", "textarea", length=255, compound=comp, extra="plaintextarea"),
        _s(f"{prefix}City", 40, compound=comp),
        _s(f"{prefix}State", 80, compound=comp),
        _s(f"{prefix}PostalCode", 20, compound=comp),
        _s(f"{prefix}Country", 80, compound=comp),
        Field(f"{prefix}Latitude", "double", precision=18, scale=15, compound=comp),
        Field(f"{prefix}Longitude", "double", precision=18, scale=15, compound=comp),
        Field(
            f"{prefix}GeocodeAccuracy",
            "picklist",
            length=40,
            compound=comp,
            picklist=GEOCODE_ACCURACY,
        ),
    ]
    whole = _ro(comp, "address", filterable=False, parts=tuple(p.name for p in parts))
    return [*parts, whole]


def _ref(name: str, target: str, rel: str, **kw: Any) -> Field:
    return Field(name, "reference", length=18, reference_to=(target,), relationship_name=rel, **kw)


def standard_fields() -> list[Field]:
    phones = ["Phone", "Fax", "MobilePhone", "HomePhone", "OtherPhone", "AssistantPhone"]
    return [
        _ro("Id", "id", length=18, nillable=False, id_lookup=True),
        _ro("IsDeleted", "boolean"),
        _ref("MasterRecordId", "Contact", "MasterRecord", updateable=False, createable=False),
        _ref("AccountId", "Account", "Account"),
        Field(
            "Salutation",
            "picklist",
            length=40,
            picklist=("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.", "Mx."),
        ),
        _s("FirstName", 40),
        _s("LastName", 80, nillable=False),
        _ro("Name", "string", length=121, nillable=False, name_field=True),
        *_address("Mailing"),
        *_address("Other"),
        *[Field(p, "phone", length=40) for p in phones],
        Field("Email", "email", length=80, id_lookup=True),
        _s("Title", 128),
        _s("Department", 80),
        _s("AssistantName", 40),
        Field(
            "LeadSource",
            "picklist",
            length=255,
            picklist=("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"),
        ),
        Field("Birthdate", "date"),
        Field("Description", "textarea", length=32000, filterable=False, extra="plaintextarea"),
        _ref("OwnerId", "User", "Owner", nillable=False),
        Field("HasOptedOutOfEmail", "boolean"),
        Field("HasOptedOutOfFax", "boolean"),
        Field("DoNotCall", "boolean"),
        _ro("CreatedDate", "datetime", nillable=False),
        _ref(
            "CreatedById", "User", "CreatedBy", nillable=False, updateable=False, createable=False
        ),
        _ro("LastModifiedDate", "datetime", nillable=False),
        _ref(
            "LastModifiedById",
            "User",
            "LastModifiedBy",
            nillable=False,
            updateable=False,
            createable=False,
        ),
        _ro("SystemModstamp", "datetime", nillable=False),
        _ro("LastActivityDate", "date"),
        _ro("LastViewedDate", "datetime"),
        _ro("LastReferencedDate", "datetime"),
        _s("EmailBouncedReason", 255),
        Field("EmailBouncedDate", "datetime"),
        _ro("IsEmailBounced", "boolean"),
        _ro("PhotoUrl", "url", length=255),
    ]


COLORS = ("Red", "Green", "Blue", "Yellow", "Purple", "Orange")
HOBBIES = ("Reading", "Hiking", "Chess", "Cooking", "Cycling", "Music")


def seeded_custom_fields() -> list[Field]:
    c = {"custom": True}
    return [
        Field("gq_import__c", "boolean", **c),
        Field("is_deleted__c", "boolean", **c),
        Field("Favorite_Color__c", "picklist", length=255, picklist=COLORS, restricted=True, **c),
        Field("Hobbies__c", "multipicklist", length=4099, picklist=HOBBIES, **c),
        Field("Age__c", "double", precision=3, scale=0, **c),  # custom Number(3, 0)
        Field("Score__c", "double", precision=8, scale=2, **c),
        Field("Donation__c", "currency", precision=16, scale=2, **c),
        Field("Completion__c", "percent", precision=5, scale=2, **c),
        Field("Signup_Date__c", "date", **c),
        Field("Last_Seen__c", "datetime", **c),
        Field("Newsletter__c", "boolean", **c),
        Field("Notes__c", "textarea", length=1000, extra="plaintextarea", **c),
        Field("Alt_Email__c", "email", length=80, **c),
        Field("Work_Phone__c", "phone", length=40, **c),
        Field("Website__c", "url", length=255, **c),
        _ref("Referred_By__c", "Contact", "Referred_By__r", **c),
        _s("Nickname__c", 40, **c),
    ]
