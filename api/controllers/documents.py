"""The documents portal: PDFs (at most 10 MB) encrypted here, kept on IPFS; list, download, delete.

Not a PDF → 415; an encrypted PDF or one with JavaScript → 400 saying why.
Who may do what is the ``document.*`` policies' business: the patient and
their connected doctors (deleting: the patient). Every access is audited.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.openapi.spec import OpenAPIFormat, OpenAPIType, Schema
from litestar.params import FromPath
from litestar.response import Stream

from api.audit_context import AuditContextDep
from api.commands import IdempotencyKey, JobAccepted, accepted
from api.multipart_upload import body_limit, form_receiver, upload_slot
from api.openapi import multipart_operation
from api.params import Cursor, Limit, PatientFilter
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import AppServices
from api.streaming import attachment_name, prefetched
from domain.documents import service as document_service
from domain.documents.model import MAX_DOCUMENT_BYTES
from domain.documents.service import OpenedDocument

DocumentId = FromPath[uuid.UUID]


class DocumentRead(msgspec.Struct, frozen=True, rename="camel"):
    id: uuid.UUID
    patient_id: uuid.UUID
    uploaded_by: uuid.UUID
    filename: str
    size_bytes: int
    page_count: int
    created_at: datetime

    @classmethod
    def of(cls, opened: OpenedDocument) -> DocumentRead:
        document = opened.document
        return cls(
            id=document.id,
            patient_id=document.patient_id,
            uploaded_by=document.uploaded_by,
            filename=opened.filename,
            size_bytes=document.size_bytes,
            page_count=document.page_count,
            created_at=document.created_at,
        )


class DocumentList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[DocumentRead]
    next_cursor: str | None


# The form domain.documents.document_fields reads; the file must be a PDF (415 otherwise).
DOCUMENT_FORM = {"patientId": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.UUID)}
DOCUMENT_UPLOAD = multipart_operation(
    DOCUMENT_FORM,
    ["patientId"],
    file_type="application/pdf",
)


class DocumentsController(Controller):
    path = "/documents"
    tags = ["documents"]

    @post(
        "/",
        operation_id="uploadDocument",
        summary="Upload a PDF (multipart: patientId, file; at most 10 MB); 202 with the job",
        status_code=202,
        responses=api_responses(400, 403, 404, 408, 409, 413, 415, 422, 503),
        opt={"policy": "document.create"},
        request_max_body_size=body_limit(MAX_DOCUMENT_BYTES),
        operation_class=DOCUMENT_UPLOAD,
    )
    async def upload_document(
        self,
        request: Request,
        access: AccessDep,
        audit_context: AuditContextDep,
        services: AppServices,
        idempotency_key: IdempotencyKey,
    ) -> Response[JobAccepted]:
        async with upload_slot(request):
            submission = await document_service.upload_document(
                services.uow,
                services.sender,
                services.cipher,
                services.content_cipher,
                services.pdf,
                services.clock,
                access,
                audit_context,
                form_receiver(request, file_limit=MAX_DOCUMENT_BYTES, names=DOCUMENT_FORM),
                idempotency_key,
            )
        return accepted(submission)

    @get(
        "/",
        operation_id="listDocuments",
        summary="A patient's documents, newest first (patients: their own by default)",
        responses=api_responses(400, 403, 404, 422),
        opt={"policy": "document.list"},
    )
    async def list_documents(
        self,
        access: AccessDep,
        audit_context: AuditContextDep,
        services: AppServices,
        patient_id: PatientFilter = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> DocumentList:
        documents, next_cursor = await document_service.list_documents(
            services.uow,
            services.cipher,
            access,
            audit_context,
            patient_id=patient_id,
            limit=limit,
            cursor=cursor,
        )
        return DocumentList(items=[DocumentRead.of(d) for d in documents], next_cursor=next_cursor)

    @get(
        "/{document_id:uuid}/content",
        operation_id="downloadDocument",
        summary="The PDF, decrypted and streamed",
        responses=api_responses(400, 403, 404, 503),
        opt={"policy": "document.read"},
        media_type="application/pdf",
    )
    async def download_document(
        self,
        document_id: DocumentId,
        access: AccessDep,
        audit_context: AuditContextDep,
        services: AppServices,
    ) -> Stream:
        opened, plaintext = await document_service.download_document(
            services.uow,
            services.cipher,
            services.content_cipher,
            services.content,
            access,
            audit_context,
            document_id,
        )
        return Stream(
            await prefetched(plaintext),
            media_type="application/pdf",
            headers={
                "Content-Length": str(opened.document.size_bytes),
                "Content-Disposition": attachment_name(opened.filename),
                "Cache-Control": "no-store",
            },
        )

    @delete(
        "/{document_id:uuid}",
        operation_id="deleteDocument",
        summary="Delete a document (soft; its content is unpinned after the retention period)",
        responses=api_responses(400, 403, 404),
        opt={"policy": "document.delete"},
        status_code=204,
    )
    async def delete_document(
        self,
        document_id: DocumentId,
        access: AccessDep,
        audit_context: AuditContextDep,
        services: AppServices,
    ) -> None:
        await document_service.delete_document(
            services.uow, services.clock, access, audit_context, document_id
        )
