"""Medical records: what a client uploads, what the platform keeps, and the rules on both.

A record's bytes are a blob the client encrypted before upload; we store them
on IPFS as they are and keep the CID. The description is PHI and is sealed
at rest; the record type is not, so lists can filter on it."""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from domain.anchoring.model import AnchorStatus
from domain.errors import ValidationFailed
from domain.files.kind import patient_of
from domain.files.model import AnchoredFile
from domain.files.uploads import ReceivedForm, UploadForm
from domain.sealing import Sealed

__all__ = ["AnchorStatus", "RecordType", "StoredRecord"]

MAX_RECORD_BYTES = 10 * 1024 * 1024  # "at most 10 MB" of file; the limit is on the file part


MAX_DESCRIPTION_CHARS = 2_000


class RecordType(enum.StrEnum):
    MEDICAL_REPORT = "MEDICAL_REPORT"
    LAB_RESULT = "LAB_RESULT"
    PRESCRIPTION = "PRESCRIPTION"
    IMAGING = "IMAGING"
    DISCHARGE_SUMMARY = "DISCHARGE_SUMMARY"
    OTHER = "OTHER"


def record_form(form: ReceivedForm) -> UploadForm:
    """Check the text fields of a record upload; raises ValidationFailed naming the field."""
    fields = form.fields
    patient_id = patient_of(fields)
    raw_type = (fields.get("recordType") or "").strip()
    try:
        record_type = RecordType(raw_type)
    except ValueError:
        names = ", ".join(RecordType)
        raise ValidationFailed(f"recordType must be one of {names}", field="recordType") from None
    description = (fields.get("description") or "").strip() or None
    if description is not None and len(description) > MAX_DESCRIPTION_CHARS:
        raise ValidationFailed(
            f"description must be at most {MAX_DESCRIPTION_CHARS} characters", field="description"
        )
    details: dict[str, Any] = {"record_type": record_type, "description": description}
    return UploadForm(patient_id=patient_id, details=details)


class RecordDetails(msgspec.Struct, frozen=True, rename="camel"):
    """What a record upload staged before migration 0009 holds, sealed as one JSON value."""

    record_type: RecordType
    description: str | None


class StoredRecord(AnchoredFile, frozen=True, kw_only=True):
    """A record's row: the description still sealed."""

    record_type: RecordType
    description: Sealed | None = None
    sha256: bytes  # of the bytes as uploaded: the content check ties them to the record
