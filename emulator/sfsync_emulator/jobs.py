"""Bulk API 2.0 job records and their JSON job-info shapes (reference §7)."""

from __future__ import annotations

from typing import Any

from attrs import define, field

from sfsync_emulator.errors import ApiError
from sfsync_emulator.fields import Field
from sfsync_emulator.seed import USER_ID
from sfsync_emulator.values import format_datetime

DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "PIPE": "|",
    "SEMICOLON": ";",
    "CARET": "^",
    "BACKQUOTE": "`",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}


@define
class Job:
    id: str
    kind: str  # "query" or "ingest"
    operation: str
    version: str
    created: int
    state: str
    delimiter: str = "COMMA"
    line_ending: str = "LF"
    object: str = "Contact"
    query: str | None = None
    fields: list[Field] = field(factory=list)
    indices: list[int] = field(factory=list)
    external_id: str | None = None
    data: str | None = None
    header: list[str] = field(factory=list)
    succeeded: list[list[str]] = field(factory=list)  # sf__Id, sf__Created, original cells
    failed: list[list[str]] = field(factory=list)  # sf__Id, sf__Error, original cells
    unprocessed: list[list[str]] = field(factory=list)
    error_message: str | None = None
    processing_ms: int = 0

    @property
    def sep(self) -> str:
        return DELIMITERS[self.delimiter]

    @property
    def newline(self) -> str:
        return LINE_ENDINGS[self.line_ending]

    def info(self, full: bool) -> dict[str, Any]:
        stamp = format_datetime(self.created)
        body: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": USER_ID,
            "createdDate": stamp,
            "systemModstamp": stamp,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.version),
        }
        if self.kind == "ingest":
            if self.external_id:
                body["externalIdFieldName"] = self.external_id
            body["contentUrl"] = f"services/data/v{self.version}/jobs/ingest/{self.id}/batches"
        body.update(lineEnding=self.line_ending, columnDelimiter=self.delimiter)
        if not full:
            return body
        if self.kind == "query":
            body.update(
                jobType="V2Query",
                numberRecordsProcessed=len(self.indices),
                retries=0,
                totalProcessingTime=self.processing_ms,
                isPkChunkingSupported=True,
            )
        else:
            body.update(
                jobType="V2Ingest",
                numberRecordsProcessed=len(self.succeeded) + len(self.failed),
                numberRecordsFailed=len(self.failed),
                retries=0,
                totalProcessingTime=self.processing_ms,
                apiActiveProcessingTime=self.processing_ms,
                apexProcessingTime=0,
            )
        if self.error_message:
            body["errorMessage"] = self.error_message
        return body


def options(body: dict[str, Any]) -> tuple[str, str]:
    delimiter = body.get("columnDelimiter") or "COMMA"
    line_ending = body.get("lineEnding") or "LF"
    if delimiter not in DELIMITERS or line_ending not in LINE_ENDINGS:
        raise ApiError(400, "INVALIDJOB", "Invalid columnDelimiter or lineEnding")
    if (body.get("contentType") or "CSV") != "CSV":
        raise ApiError(400, "INVALIDJOB", "contentType must be CSV")
    return delimiter, line_ending


def job_list(jobs: list[Job]) -> dict[str, Any]:
    return {"done": True, "records": [j.info(False) for j in jobs], "nextRecordsUrl": None}
