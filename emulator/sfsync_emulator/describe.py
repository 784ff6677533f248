"""JSON bodies for versions, resources, limits, global and Contact describe (reference §3, §5)."""

from __future__ import annotations

from typing import Any

from sfsync_emulator.fields import ID_TYPES, SOAP_TYPES, Field
from sfsync_emulator.schema import Schema

OLDEST, NEWEST = 31, 66
_SEASONS = ("Winter", "Spring", "Summer")


def label(major: int) -> str:
    """Release name: v59.0 was Winter '24, three releases a year."""
    k = major - 59
    return f"{_SEASONS[k % 3]} '{24 + k // 3:02d}"


def versions() -> list[dict[str, str]]:
    return [
        {"label": label(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
        for v in range(OLDEST, NEWEST + 1)
    ]


def resources(version: str) -> dict[str, str]:
    base = f"/services/data/v{version}"
    names = [
        "sobjects",
        "query",
        "queryAll",
        "limits",
        "composite",
        "jobs",
        "search",
        "tooling",
        "recent",
        "analytics",
        "connect",
    ]
    out = {name: f"{base}/{name}" for name in names}
    out["identity"] = "https://login.salesforce.com/id/00DDn00000000001AAA/005Dn00000000001AAA"
    return out


BULK_BATCHES, BULK_QUERY_JOBS = 15000, 10000


def limits(api_max: int, api_used: int, used: dict[str, int]) -> dict[str, dict[str, int]]:
    """`used` counts what the org spent today of the limits that count down (reference §3.5)."""
    fixed = {
        "DailyBulkApiBatches": BULK_BATCHES,
        "DailyBulkV2QueryJobs": BULK_QUERY_JOBS,
        "DailyBulkV2QueryFileStorageMB": 976562,
        "DailyAsyncApexExecutions": 250000,
        "DataStorageMB": 1024,
        "FileStorageMB": 2048,
        "ConcurrentAsyncGetReportInstances": 200,
        "ConcurrentSyncReportRuns": 20,
        "HourlyAsyncReportRuns": 1200,
        "HourlySyncReportRuns": 500,
        "SingleEmail": 5000,
        "MassEmail": 5000,
    }
    out = {"DailyApiRequests": {"Max": api_max, "Remaining": max(api_max - api_used, 0)}}
    out.update({k: {"Max": v, "Remaining": max(v - used.get(k, 0), 0)} for k, v in fixed.items()})
    return out


_CAPS = {
    "activateable": False,
    "createable": True,
    "custom": False,
    "customSetting": False,
    "deletable": True,
    "deprecatedAndHidden": False,
    "feedEnabled": True,
    "layoutable": True,
    "mergeable": True,
    "mruEnabled": True,
    "queryable": True,
    "replicateable": True,
    "retrieveable": True,
    "searchable": True,
    "triggerable": True,
    "undeletable": True,
    "updateable": True,
}


def _urls(version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/Contact"
    return {
        "sobject": base,
        "describe": f"{base}/describe",
        "rowTemplate": f"{base}/{{ID}}",
        "compactLayouts": f"{base}/describe/compactLayouts",
        "approvalLayouts": f"{base}/describe/approvalLayouts",
    }


def sobject_summary(version: str) -> dict[str, Any]:
    return {
        "name": "Contact",
        "label": "Contact",
        "labelPlural": "Contacts",
        "keyPrefix": "003",
        "hasSubtypes": False,
        "isInterface": False,
        "isSubtype": False,
        "associateEntityType": None,
        "associateParentEntity": None,
        **_CAPS,
        "urls": _urls(version),
    }


def global_describe(version: str) -> dict[str, Any]:
    return {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [sobject_summary(version)]}


def _byte_length(f: Field, text: bool) -> int:
    """Ids are ASCII: 18 bytes; other text fields allow 3 bytes a character."""
    if f.type in ID_TYPES:
        return f.length
    return f.length * 3 if text else 0


def field_describe(f: Field, schema: Schema) -> dict[str, Any]:
    text = f.type in (
        "string",
        "textarea",
        "email",
        "phone",
        "url",
        "picklist",
        "multipicklist",
        "combobox",
        "id",
        "reference",
    )
    picklist = [
        {"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v}
        for v in f.picklist
    ]
    return {
        "aggregatable": f.type not in ("textarea", "multipicklist", "address"),
        "aiPredictionField": False,
        "autoNumber": False,
        "byteLength": _byte_length(f, text),
        "calculated": f.formula is not None,
        "calculatedFormula": f.formula,
        "cascadeDelete": False,
        "caseSensitive": False,
        "compoundFieldName": f.compound,
        "controllerName": None,
        "createable": schema.is_writable(f, create=True),
        "custom": f.custom,
        "defaultValue": f.default,
        "defaultValueFormula": None,
        "defaultedOnCreate": f.type == "boolean" or f.name in ("OwnerId", "Id"),
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": f.digits,
        "displayLocationInDecimal": False,
        "encrypted": False,
        "externalId": False,
        "extraTypeInfo": f.extra,
        "filterable": f.filterable,
        "filteredLookupInfo": None,
        "formulaTreatNullNumberAsZero": False,
        "groupable": f.type
        not in (
            "textarea",
            "double",
            "currency",
            "percent",
            "address",
            "datetime",
            "multipicklist",
        ),
        "highScaleNumber": False,
        "htmlFormatted": False,
        "idLookup": f.id_lookup,
        "inlineHelpText": None,
        "label": f.label,
        "length": f.length if text else 0,
        "mask": None,
        "maskType": None,
        "name": f.name,
        "nameField": f.name_field,
        "namePointing": False,
        "nillable": f.nillable,
        "permissionable": f.nillable,
        "picklistValues": picklist,
        "polymorphicForeignKey": False,
        "precision": f.precision,
        "queryByDistance": False,
        "referenceTargetField": None,
        "referenceTo": list(f.reference_to),
        "relationshipName": f.relationship_name,
        "relationshipOrder": None,
        "restrictedDelete": False,
        "restrictedPicklist": f.restricted,
        "scale": f.scale,
        "searchPrefilterable": False,
        "soapType": SOAP_TYPES.get(f.type, "xsd:string"),
        "sortable": f.type not in ("textarea", "multipicklist", "address"),
        "type": f.type,
        "unique": False,
        "updateable": schema.is_writable(f),
        "writeRequiresMasterRead": False,
    }


def contact_describe(schema: Schema, version: str) -> dict[str, Any]:
    body = sobject_summary(version)
    body.update(
        {
            "fields": [field_describe(f, schema) for f in schema.visible()],
            "childRelationships": [],
            "recordTypeInfos": [],
            "supportedScopes": [
                {"label": "All contacts", "name": "everything"},
                {"label": "My contacts", "name": "mine"},
            ],
            "namedLayoutInfos": [],
            "actionOverrides": [],
            "compactLayoutable": True,
            "searchLayoutable": True,
            "listviewable": None,
            "lookupLayoutable": None,
            "dataTranslationEnabled": False,
            "defaultImplementation": None,
            "implementedBy": None,
            "implementsInterfaces": None,
            "networkScopeFieldName": None,
            "sobjectDescribeOption": "FULL",
        }
    )
    return body
