"""Medical records: upload (a job), read, list, stream the content, verify, export, delete.

The file is a blob the client encrypted; we store it on IPFS unchanged and
anchor its CID on Stellar in a Merkle batch. Who may do what is the
``record.*`` policies' business (the patient, a connected doctor; admins see
metadata and proofs, never content). Every access is audited.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.openapi.spec import OpenAPIFormat, OpenAPIType, Schema
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from api.audit_context import AuditContextDep
from api.commands import IdempotencyKey, JobAccepted, accepted
from api.multipart_upload import body_limit, form_receiver, upload_slot
from api.openapi import multipart_operation
from api.params import Cursor, Limit, PatientFilter
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import AppServices
from api.streaming import prefetched
from domain.anchoring.proof import ExportedProof
from domain.records import service as record_service
from domain.records.model import MAX_DESCRIPTION_CHARS, MAX_RECORD_BYTES, AnchorStatus, RecordType
from domain.records.service import OpenedRecord
from domain.records.verification import Check, verify_record

RecordId = FromPath[uuid.UUID]


class AnchorRead(msgspec.Struct, frozen=True, rename="camel"):
    batch_id: uuid.UUID
    status: str  # signed (kept, not yet on the ledger) | anchored
    root: str
    leaf_index: int
    proof: list[dict[str, str]]
    network: str
    source_account: str
    tx_hash: str
    ledger: int | None


class RecordRead(msgspec.Struct, frozen=True, rename="camel"):
    id: uuid.UUID
    patient_id: uuid.UUID
    uploaded_by: uuid.UUID
    job_id: uuid.UUID
    record_type: RecordType
    description: str | None
    cid: str
    size_bytes: int
    sha256: str
    anchor_status: AnchorStatus
    stellar_tx_hash: str | None
    anchor: AnchorRead | None
    created_at: datetime

    @classmethod
    def of(cls, opened: OpenedRecord) -> RecordRead:
        record, batch = opened.record, opened.batch
        anchor = None
        if batch is not None and record.leaf_index is not None and record.proof is not None:
            anchor = AnchorRead(
                batch_id=batch.id,
                status=batch.status.value,
                root=batch.root.hex(),
                leaf_index=record.leaf_index,
                proof=[{"side": step.side, "hash": step.hash} for step in record.proof],
                network=batch.network,
                source_account=batch.source_account,
                tx_hash=batch.tx_hash,
                ledger=batch.ledger,
            )
        anchored = record.anchor_status is AnchorStatus.ANCHORED and batch is not None
        return cls(
            id=record.id,
            patient_id=record.patient_id,
            uploaded_by=record.uploaded_by,
            job_id=record.job_id,
            record_type=record.record_type,
            description=opened.description,
            cid=record.cid,
            size_bytes=record.size_bytes,
            sha256=record.sha256.hex(),
            anchor_status=record.anchor_status,
            stellar_tx_hash=batch.tx_hash if anchored and batch else None,
            anchor=anchor,
            created_at=record.created_at,
        )


class RecordList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[RecordRead]
    next_cursor: str | None


class CheckRead(msgspec.Struct, frozen=True):
    status: str
    detail: str

    @classmethod
    def of(cls, check: Check) -> CheckRead:
        return cls(status=check.status.value, detail=check.detail)


class VerificationRead(msgspec.Struct, frozen=True, rename="camel"):
    verified: bool
    content: CheckRead
    proof: CheckRead
    ledger: CheckRead


# The form domain.records.record_fields reads (the file is the client's ciphertext).
RECORD_FORM = {
    "patientId": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.UUID),
    "recordType": Schema(type=OpenAPIType.STRING, enum=[kind.value for kind in RecordType]),
    "description": Schema(type=OpenAPIType.STRING, max_length=MAX_DESCRIPTION_CHARS),
}
RECORD_UPLOAD = multipart_operation(
    RECORD_FORM,
    ["patientId", "recordType"],
    file_type="application/octet-stream",
)


class RecordsController(Controller):
    path = "/records"
    tags = ["records"]

    @post(
        "/",
        operation_id="uploadRecord",
        summary="Upload a client-encrypted record (multipart, at most 10 MB); 202 with the job",
        status_code=202,
        responses=api_responses(400, 403, 404, 408, 409, 413, 415, 422, 503),
        opt={"policy": "record.create"},
        request_max_body_size=body_limit(MAX_RECORD_BYTES),
        operation_class=RECORD_UPLOAD,
    )
    async def upload_record(
        self,
        request: Request,
        access: AccessDep,
        audit_context: AuditContextDep,
        services: AppServices,
        idempotency_key: IdempotencyKey,
    ) -> Response[JobAccepted]:
        async with upload_slot(request):
            submission = await record_service.upload_record(
                services.uow,
                services.sender,
                services.cipher,
                services.clock,
                access,
                audit_context,
                form_receiver(request, file_limit=MAX_RECORD_BYTES, names=RECORD_FORM),
                idempotency_key,
            )
        return accepted(submission)

    @get(
        "/",
        operation_id="listRecords",
        summary="A patient's records, newest first (patients: their own by default)",
        responses=api_responses(400, 404, 422),
        opt={"policy": "record.list"},
    )
    async def list_records(
        self,
        access: AccessDep,
        audit_context: AuditContextDep,
        services: AppServices,
        patient_id: PatientFilter = None,
        record_type: Annotated[RecordType | None, QueryParameter(name="recordType")] = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> RecordList:
        records, next_cursor = await record_service.list_records(
            services.uow,
            services.cipher,
            access,
            audit_context,
            patient_id=patient_id,
            record_type=record_type,
            limit=limit,
            cursor=cursor,
        )
        return RecordList(items=[RecordRead.of(r) for r in records], next_cursor=next_cursor)

    @get(
        "/{record_id:uuid}",
        operation_id="getRecord",
        summary="A record's metadata and anchor proof",
        responses=api_responses(400, 404),
        opt={"policy": "record.read"},
    )
    async def get_record(
        self,
        record_id: RecordId,
        access: AccessDep,
        audit_context: AuditContextDep,
        services: AppServices,
    ) -> RecordRead:
        opened = await record_service.read_record(
            services.uow, services.cipher, access, audit_context, record_id
        )
        return RecordRead.of(opened)

    @get(
        "/{record_id:uuid}/content",
        operation_id="getRecordContent",
        summary="The record's bytes from IPFS, exactly as uploaded",
        responses=api_responses(400, 403, 404, 503),
        opt={"policy": "record.content"},
        media_type="application/octet-stream",
    )
    async def get_record_content(
        self,
        record_id: RecordId,
        access: AccessDep,
        audit_context: AuditContextDep,
        services: AppServices,
    ) -> Stream:
        record, pieces = await record_service.record_content(
            services.uow, services.content, access, audit_context, record_id
        )
        return Stream(
            await prefetched(pieces),
            media_type="application/octet-stream",
            headers={
                "Content-Length": str(record.size_bytes),
                "Content-Disposition": f'attachment; filename="record-{record.id}.bin"',
                "ETag": f'"{record.cid}"',
                "Cache-Control": "no-store",
            },
        )

    @get(
        "/{record_id:uuid}/verify",
        operation_id="verifyRecord",
        summary="Check the content's CID, the Merkle proof and the ledger, each on its own",
        responses=api_responses(400, 404),
        opt={"policy": "record.read"},
    )
    async def verify(
        self,
        record_id: RecordId,
        access: AccessDep,
        audit_context: AuditContextDep,
        services: AppServices,
    ) -> VerificationRead:
        opened = await record_service.record_with_batch(
            services.uow, services.cipher, access, audit_context, record_id, "record.verify"
        )
        result = await verify_record(
            opened.record, opened.batch, services.content, services.cid_of, services.ledger
        )
        return VerificationRead(
            verified=result.verified,
            content=CheckRead.of(result.content),
            proof=CheckRead.of(result.proof),
            ledger=CheckRead.of(result.ledger),
        )

    @get(
        "/{record_id:uuid}/proof",
        operation_id="exportRecordProof",
        summary="The record's inclusion proof and transaction, for healthplat-verify-proof",
        responses=api_responses(400, 404, 409),
        opt={"policy": "record.read"},
    )
    async def export_proof(
        self,
        record_id: RecordId,
        access: AccessDep,
        audit_context: AuditContextDep,
        services: AppServices,
    ) -> ExportedProof:
        opened = await record_service.record_with_batch(
            services.uow, services.cipher, access, audit_context, record_id, "record.proof"
        )
        return record_service.exported_proof(opened)

    @delete(
        "/{record_id:uuid}",
        operation_id="deleteRecord",
        summary="Delete a record (soft; its content is unpinned after the retention period)",
        responses=api_responses(400, 403, 404),
        opt={"policy": "record.delete"},
        status_code=204,
    )
    async def delete_record(
        self,
        record_id: RecordId,
        access: AccessDep,
        audit_context: AuditContextDep,
        services: AppServices,
    ) -> None:
        await record_service.delete_record(
            services.uow, services.clock, access, audit_context, record_id
        )
