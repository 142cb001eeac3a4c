"""Medical records: what a client uploads, what the platform keeps, and the rules on both.

A record's bytes are a blob the client encrypted before upload; we store them
on IPFS as they are and keep the CID. The description is PHI and is sealed
at rest; the record type is not, so lists can filter on it."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import msgspec

from domain.anchoring.model import ProofStepView
from domain.errors import ValidationFailed
from domain.sealing import Sealed

MAX_RECORD_BYTES = 10 * 1024 * 1024  # "at most 10 MB" of file; the limit is on the file part


MAX_DESCRIPTION_CHARS = 2_000


class RecordType(enum.StrEnum):
    MEDICAL_REPORT = "MEDICAL_REPORT"
    LAB_RESULT = "LAB_RESULT"
    PRESCRIPTION = "PRESCRIPTION"
    IMAGING = "IMAGING"
    DISCHARGE_SUMMARY = "DISCHARGE_SUMMARY"
    OTHER = "OTHER"


class AnchorStatus(enum.StrEnum):
    PENDING = "pending"  # stored on IPFS, waiting for (or in) a batch not yet on the ledger
    ANCHORED = "anchored"  # its batch's root is in a ledger transaction


class RecordFields(msgspec.Struct, frozen=True, kw_only=True):
    """The form fields of an upload, checked."""

    patient_id: uuid.UUID
    record_type: RecordType
    description: str | None


def record_fields(fields: dict[str, str]) -> RecordFields:
    """Check the text fields of a record upload; raises ValidationFailed naming the field."""
    raw_patient = (fields.get("patientId") or "").strip()
    try:
        patient_id = uuid.UUID(raw_patient)
    except ValueError:
        raise ValidationFailed("patientId must be a patient's id", field="patientId") from None
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
    return RecordFields(patient_id=patient_id, record_type=record_type, description=description)


class RecordDetails(msgspec.Struct, frozen=True, rename="camel"):
    """What a staged record upload will become; sealed while it waits (the description is PHI)."""

    record_type: RecordType
    description: str | None


class StoredRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A record's row: the description still sealed."""

    id: uuid.UUID
    patient_id: uuid.UUID
    uploaded_by: uuid.UUID
    job_id: uuid.UUID
    record_type: RecordType
    description: Sealed | None
    cid: str
    size_bytes: int
    sha256: bytes
    anchor_status: AnchorStatus
    anchor_batch_id: uuid.UUID | None
    leaf_index: int | None
    proof: list[ProofStepView] | None
    created_at: datetime
    deleted_at: datetime | None = None


class RecordQuery(msgspec.Struct, frozen=True, kw_only=True):
    patient_id: uuid.UUID | None  # None: every patient the caller may see (admins only)
    record_type: RecordType | None
    limit: int
    cursor: str | None


class RecordPage(msgspec.Struct, frozen=True):
    records: list[StoredRecord]
    next_cursor: str | None


def record_job_result(
    record_id: uuid.UUID, cid: str, anchor_status: AnchorStatus, tx_hash: str | None
) -> dict[str, object]:
    """The record job's result, as a client polling the job reads it."""
    return {
        "recordId": str(record_id),
        "cid": cid,
        "anchorStatus": anchor_status.value,
        "stellarTxHash": tx_hash,
    }
