"""The documents portal: PDFs (at most 10 MB) encrypted here, kept on IPFS; list, download, delete.

Not a PDF → 415; an encrypted PDF or one with JavaScript → 400 saying why.
Every route is one every kind of file has, built from the documents'
declaration (domain/documents/kind.py, through patient_files.py). Who may do
what is the ``document.*`` policies' business: the patient and their connected
doctors (deleting: the patient). Every access is audited.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from api.controllers.patient_files import FileRoutes, patient_files_controller
from api.streaming import attachment_name
from domain.documents.kind import DOCUMENTS
from domain.documents.model import StoredDocument
from domain.files.model import OpenedFile


class DocumentRead(msgspec.Struct, frozen=True, rename="camel"):
    id: uuid.UUID
    patient_id: uuid.UUID
    uploaded_by: uuid.UUID
    filename: str
    size_bytes: int
    page_count: int
    created_at: datetime

    @classmethod
    def of(cls, opened: OpenedFile) -> DocumentRead:
        document: StoredDocument = opened.file  # type: ignore[assignment]
        return cls(
            id=document.id,
            patient_id=document.patient_id,
            uploaded_by=document.uploaded_by,
            filename=opened.details["filename"] or "",
            size_bytes=document.size_bytes,
            page_count=document.page_count,
            created_at=document.created_at,
        )


class DocumentList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[DocumentRead]
    next_cursor: str | None


def document_download(opened: OpenedFile) -> dict[str, str]:
    """The PDF, decrypted, under the name it was uploaded with."""
    return {"Content-Disposition": attachment_name(opened.details["filename"] or "")}


DOCUMENT_ROUTES = FileRoutes(
    kind=DOCUMENTS,
    read=DocumentRead,
    page=DocumentList,
    # The form domain.documents.model.document_form reads: patientId, and a PDF (415 otherwise).
    upload_summary="Upload a PDF (multipart: patientId, file; at most 10 MB); 202 with the job",
    content_summary="The PDF, decrypted and streamed",
    content_operation="downloadDocument",
    download=document_download,
)

DocumentsController = patient_files_controller(DOCUMENT_ROUTES)
