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
from litestar.openapi.spec import OpenAPIFormat, OpenAPIType, Schema

from api.controllers.patient_files import FileRoutes, Route, no_filters, patient_files_controller
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
    # The form domain.documents.model.document_form reads; the file must be a PDF (415 otherwise).
    form={"patientId": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.UUID)},
    required=["patientId"],
    upload=Route(
        "uploadDocument",
        "Upload a PDF (multipart: patientId, file; at most 10 MB); 202 with the job",
        (400, 403, 404, 408, 409, 413, 415, 422, 503),
    ),
    listing=Route(
        "listDocuments",
        "A patient's documents, newest first (patients: their own by default)",
        (400, 403, 404, 422),
    ),
    content=Route(
        "downloadDocument",
        "The PDF, decrypted and streamed",
        (400, 403, 404, 503),
    ),
    delete=Route(
        "deleteDocument",
        "Delete a document (soft; its content is unpinned after the retention period)",
        (400, 403, 404),
    ),
    read=DocumentRead.of,
    page=DocumentList,
    filters=no_filters,
    download=document_download,
)

DocumentsController = patient_files_controller(DOCUMENT_ROUTES)
