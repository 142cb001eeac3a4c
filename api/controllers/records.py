"""Medical records: upload (a job), read, list, stream the content, verify, export, delete.

The file is a blob the client encrypted; we store it on IPFS unchanged and
anchor its CID on Stellar in a Merkle batch. The routes every kind of file has
come from the records' declaration (domain/records/kind.py, through
patient_files.py); reading one record, verifying it and exporting its proof are
a record's own. Who may do what is the ``record.*`` policies' business (the
patient, a connected doctor; admins see metadata and proofs, never content).
Every access is audited.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import get
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath, QueryParameter

from api.audit_context import AuditContextDep
from api.controllers.patient_files import FileRoutes, patient_files_controller
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import UseCases
from domain.anchoring.model import AnchorBatch
from domain.anchoring.proof import ExportedProof
from domain.files.model import OpenedFile
from domain.files.reading import read_file
from domain.records.kind import RECORDS
from domain.records.model import MAX_DESCRIPTION_CHARS, AnchorStatus, RecordType, StoredRecord
from domain.records.proofs import export_proof
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
    def of(cls, opened: OpenedFile) -> RecordRead:
        record: StoredRecord = opened.file  # type: ignore[assignment]
        batch: AnchorBatch | None = opened.attachment
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
            description=opened.details.get("description"),
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


def record_filters(
    record_type: Annotated[RecordType | None, QueryParameter(name="recordType")] = None,
) -> dict[str, Any]:
    return {} if record_type is None else {"record_type": record_type}


def record_download(opened: OpenedFile) -> dict[str, str]:
    """The bytes exactly as uploaded: named by the record, tagged by their CID."""
    return {
        "Content-Disposition": f'attachment; filename="record-{opened.file.id}.bin"',
        "ETag": f'"{opened.file.cid}"',
    }


RECORD_ROUTES = FileRoutes(
    kind=RECORDS,
    read=RecordRead,
    page=RecordList,
    filters=record_filters,
    # The form domain.records.model.record_form reads (the file is the client's ciphertext).
    form={
        "recordType": Schema(type=OpenAPIType.STRING, enum=[kind.value for kind in RecordType]),
        "description": Schema(type=OpenAPIType.STRING, max_length=MAX_DESCRIPTION_CHARS),
    },
    required=["recordType"],
    upload_summary="Upload a client-encrypted record (multipart, at most 10 MB); 202 with the job",
    content_summary="The record's bytes from IPFS, exactly as uploaded",
    content_operation="getRecordContent",
    download=record_download,
)


class RecordsController(patient_files_controller(RECORD_ROUTES)):  # type: ignore[misc]
    """The routes every file has, and a record's own: its metadata, verification and proof."""

    @get(
        "/{record_id:uuid}",
        operation_id="getRecord",
        summary="A record's metadata and anchor proof",
        responses=api_responses(400, 404),
        opt={"policy": RECORDS.policies.read},
    )
    async def get_record(
        self,
        record_id: RecordId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> RecordRead:
        return RecordRead.of(await cases.run(read_file, RECORDS, access, audit_context, record_id))

    @get(
        "/{record_id:uuid}/verify",
        operation_id="verifyRecord",
        summary="Check the content's CID, the Merkle proof and the ledger, each on its own",
        responses=api_responses(400, 404),
        opt={"policy": RECORDS.policies.read},
    )
    async def verify(
        self,
        record_id: RecordId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> VerificationRead:
        result = await cases.run(verify_record, access, audit_context, record_id)
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
        opt={"policy": RECORDS.policies.read},
    )
    async def export_proof(
        self,
        record_id: RecordId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> ExportedProof:
        return await cases.run(export_proof, access, audit_context, record_id)
