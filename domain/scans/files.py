"""A scan's bytes: what they are by their magic numbers, and its row in the file pipeline.

A scan is a photographed or scanned paper prescription: JPEG, PNG, HEIC (iPhones) or PDF,
at most 10 MB, encrypted at rest like a document (its own data key, sealed). What the
bytes are is decided here from their first bytes, never from the client's word: anything
else is a 415; a truncated image or a PDF we refuse (encrypted, with JavaScript) a 400.
"""

from __future__ import annotations

from typing import Any

from domain.errors import BadRequest, UnsupportedMediaType
from domain.files.kind import patient_of
from domain.files.model import StoredFile
from domain.files.ports import PdfInspector
from domain.files.uploads import ReceivedForm, UploadForm
from domain.sealing import Sealed

MAX_SCAN_BYTES = 10 * 1024 * 1024
HEIC_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1")
MEDIA_TYPES = ("image/jpeg", "image/png", "image/heic", "application/pdf")


def media_type_of(data: bytes) -> str:
    """JPEG, PNG, HEIC or PDF by the magic numbers: UnsupportedMediaType otherwise."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[4:8] == b"ftyp" and data[8:12] in HEIC_BRANDS:
        return "image/heic"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    raise UnsupportedMediaType(
        "a scan is a JPEG, PNG, HEIC or PDF file", code="unsupported_media_type"
    )


def _whole_image(media_type: str, data: bytes) -> None:
    """Refuse an image cut short (a failed upload): its end marker or header is missing."""
    if media_type == "image/jpeg" and b"\xff\xd9" not in data[-1024:]:
        raise BadRequest("the JPEG image is incomplete", code="damaged_image")
    if media_type == "image/png" and (data[12:16] != b"IHDR" or b"IEND" not in data[-64:]):
        raise BadRequest("the PNG image is incomplete", code="damaged_image")


async def scan_facts(pdf: PdfInspector, data: bytes) -> dict[str, Any]:
    """What we keep about a scan's bytes: their type, and how many pages are read."""
    media_type = media_type_of(data)
    if media_type == "application/pdf":
        return {"media_type": media_type, "page_count": await pdf.page_count(data)}
    _whole_image(media_type, data)
    return {"media_type": media_type, "page_count": 1}


def scan_form(form: ReceivedForm) -> UploadForm:
    return UploadForm(patient_id=patient_of(form.fields), details={})


class StoredScan(StoredFile, frozen=True, kw_only=True):
    """A scan's row: its data key sealed; its CID is of the ciphertext, its size the
    plaintext's."""

    data_key: Sealed
    media_type: str
    page_count: int
