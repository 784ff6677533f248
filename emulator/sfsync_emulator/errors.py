"""The error raised by handlers; rendered as the REST error array (reference §3.3)."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict]:
        item: dict = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            item["fields"] = self.fields
        return [item]


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


def invalid_field(name: str) -> ApiError:
    return ApiError(
        400,
        "INVALID_FIELD",
        f"No such column '{name}' on entity 'Contact'. If you are attempting to use a custom "
        "field, be sure to append the '__c' after the custom field name. Please reference "
        "your WSDL or the describe call for the appropriate names.",
    )


def not_writable(names: list[str]) -> ApiError:
    joined = ", ".join(names)
    return ApiError(
        400,
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"Unable to create/update fields: {joined}. Please check the security settings of "
        "this field and verify that it is read/write for your profile or permission set.",
        names,
    )
