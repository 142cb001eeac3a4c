"""The documents portal: PDFs a patient (or their doctor) keeps with us.

Unlike records, documents arrive as plaintext, so the server encrypts them
(a fresh AES-256 data key per document, wrapped by the PHI keyring) before a
single byte reaches IPFS. The file name is PHI too and is sealed.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from domain.errors import ValidationFailed
from domain.sealing import Sealed

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
MAX_FILENAME_CHARS = 255


class DocumentFields(msgspec.Struct, frozen=True, kw_only=True):
    patient_id: uuid.UUID
    filename: str


def clean_filename(name: str | None) -> str:
    """The client's file name without any path, for display only; never used on our disk."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    base = "".join(ch for ch in base if ch.isprintable())
    if not base:
        return "document.pdf"
    if len(base) > MAX_FILENAME_CHARS:
        raise ValidationFailed(
            f"the file name must be at most {MAX_FILENAME_CHARS} characters", field="file"
        )
    return base


def document_fields(fields: dict[str, str], filename: str | None) -> DocumentFields:
    raw_patient = (fields.get("patientId") or "").strip()
    try:
        patient_id = uuid.UUID(raw_patient)
    except ValueError:
        raise ValidationFailed("patientId must be a patient's id", field="patientId") from None
    return DocumentFields(patient_id=patient_id, filename=clean_filename(filename))


class DocumentDetails(msgspec.Struct, frozen=True, rename="camel"):
    """What a staged document upload becomes; sealed while it waits."""

    filename: str
    data_key: bytes
    size_bytes: int  # of the plaintext
    page_count: int


class StoredDocument(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    patient_id: uuid.UUID
    uploaded_by: uuid.UUID
    job_id: uuid.UUID
    filename: Sealed
    data_key: Sealed
    cid: str
    size_bytes: int
    page_count: int
    created_at: datetime
    deleted_at: datetime | None = None


class DocumentQuery(msgspec.Struct, frozen=True, kw_only=True):
    patient_id: uuid.UUID | None
    limit: int
    cursor: str | None


class DocumentPage(msgspec.Struct, frozen=True):
    documents: list[StoredDocument]
    next_cursor: str | None
