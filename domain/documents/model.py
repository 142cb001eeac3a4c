"""The documents portal: PDFs a patient (or their doctor) keeps with us.

Unlike records, documents arrive as plaintext, so the server encrypts them
(a fresh AES-256 data key per document, wrapped by the PHI keyring) before a
single byte reaches IPFS. The file name is PHI too and is sealed.
"""

from __future__ import annotations

import msgspec

from domain.errors import ValidationFailed
from domain.files.kind import patient_of
from domain.files.model import StoredFile
from domain.files.uploads import ReceivedForm, UploadForm
from domain.sealing import Sealed

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
MAX_FILENAME_CHARS = 255


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


def document_form(form: ReceivedForm) -> UploadForm:
    patient_id = patient_of(form.fields)
    return UploadForm(patient_id=patient_id, details={"filename": clean_filename(form.filename)})


class DocumentDetails(msgspec.Struct, frozen=True, rename="camel"):
    """What a document upload staged before migration 0009 holds, sealed as one JSON value."""

    filename: str
    data_key: bytes
    size_bytes: int  # of the plaintext
    page_count: int


class StoredDocument(StoredFile, frozen=True, kw_only=True):
    """A document's row: its file name and data key sealed; its CID is of the ciphertext,
    its size the plaintext PDF's."""

    filename: Sealed
    data_key: Sealed
    page_count: int
