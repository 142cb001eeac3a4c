"""Medical records: accepting an upload as a job, and reading, streaming and deleting records.

The upload's bytes are staged in the transaction that creates the job (see
``domain.files.uploads``); the ``record.store`` job moves them to IPFS and writes
the record. Every access to a record is audited in the transaction that
checks it, so no read happens without its event.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import msgspec

from domain.anchoring.model import AnchorBatch
from domain.anchoring.proof import ExportedProof, ExportedStep
from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.errors import Conflict, NotFound, ValidationFailed
from domain.files.ports import ContentStore
from domain.files.staging import StagingWriter
from domain.files.submission import UploadJob, submit_upload
from domain.files.uploads import ReceiveForm, StagedBytes, UploadPurpose
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import send_submitted
from domain.patients.access import authorize_patient, authorize_patient_file, delete_patient_file
from domain.phi.columns import RECORD_DESCRIPTION
from domain.policies import Access, user_uuid
from domain.records.jobs import RECORD_STORE
from domain.records.model import (
    MAX_RECORD_BYTES,
    RecordDetails,
    RecordQuery,
    RecordType,
    StoredRecord,
    record_fields,
)
from domain.records.ports import UnitOfWork
from domain.sealing import Cipher
from domain.transactions import UnitOfWorkFactory


class OpenedRecord(msgspec.Struct, frozen=True):
    """A record for a caller who passed the access check: description opened, batch loaded."""

    record: StoredRecord
    description: str | None
    batch: AnchorBatch | None


def _entry(action: str, record_id: uuid.UUID | str | None, *fields: str) -> AuditEntry:
    return AuditEntry(
        action=action,
        resource_type="record",
        resource_id=str(record_id) if record_id else None,
        changed_fields=fields,
    )


async def submit_record(
    uow: UnitOfWork,
    cipher: Cipher,
    clock: Clock,
    access: Access,
    audit: AuditContext,
    fields: dict[str, str],
    staged: StagedBytes,
    idempotency_key: str | None,
) -> Submission:
    """Turn staged bytes and the form's fields into a ``record.store`` job, in ``uow``."""
    checked = record_fields(fields)
    await authorize_patient(uow, access, checked.patient_id)
    upload = UploadJob(
        kind=RECORD_STORE,
        purpose=UploadPurpose.RECORD,
        patient_id=checked.patient_id,
        details=RecordDetails(record_type=checked.record_type, description=checked.description),
        request={"fields": msgspec.to_builtins(checked), "sha256": staged.sha256.hex()},
    )
    return await submit_upload(uow, cipher, clock, access, audit, staged, upload, idempotency_key)


async def upload_record(
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    sender: MessageSender,
    cipher: Cipher,
    clock: Clock,
    access: Access,
    audit: AuditContext,
    receive: ReceiveForm,
    idempotency_key: str | None,
) -> Submission:
    """Stream the upload into staging and create its job, all in one transaction."""
    async with uow_factory() as uow:
        staging = StagingWriter(uow.uploads, MAX_RECORD_BYTES, "file")
        form = await receive(staging.write)
        staged = await staging.finish()
        submission = await submit_record(
            uow, cipher, clock, access, audit, form.fields, staged, idempotency_key
        )
    await send_submitted(sender, submission)
    return submission


async def _authorized(uow: UnitOfWork, access: Access, record_id: uuid.UUID) -> StoredRecord:
    record = await uow.records.get(record_id)
    await authorize_patient_file(uow, access, record.patient_id if record else None, "record")
    if record is None:  # unreachable: authorize_patient_file refuses a missing one
        raise NotFound("record not found")
    return record


def _open(
    cipher: Cipher, record: StoredRecord, batch: AnchorBatch | None, *, reveal: bool = True
) -> OpenedRecord:
    """The record as a caller sees it; ``reveal=False`` keeps its sealed description sealed."""
    description = None
    if reveal and record.description is not None:
        description = cipher.open(
            record.description, RECORD_DESCRIPTION.context(record.id)
        ).decode()
    return OpenedRecord(record=record, description=description, batch=batch)


async def _batch(uow: UnitOfWork, record: StoredRecord) -> AnchorBatch | None:
    if record.anchor_batch_id is None:
        return None
    return await uow.anchors.get(record.anchor_batch_id)


async def read_record(
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    cipher: Cipher,
    access: Access,
    audit: AuditContext,
    record_id: uuid.UUID,
) -> OpenedRecord:
    async with uow_factory() as uow:
        record = await _authorized(uow, access, record_id)
        opened = _open(cipher, record, await _batch(uow, record))
        await uow.audit.record(audit, _entry("record.read", record_id))
    return opened


async def list_records(
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    cipher: Cipher,
    access: Access,
    audit: AuditContext,
    *,
    patient_id: uuid.UUID | None,
    record_type: RecordType | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[OpenedRecord], str | None]:
    """One patient's records (their descriptions opened), or, for an admin who names no patient,
    every patient's records as metadata only: their descriptions stay sealed, and the trail
    gets one event per patient shown, so a bulk read is as visible as reading each patient."""
    async with uow_factory() as uow:
        if patient_id is None and not access.sees_all():
            patient_id = user_uuid(access.principal) if access.principal.role == "patient" else None
            if patient_id is None:
                raise ValidationFailed("name the patient: patientId", field="patientId")
        if patient_id is not None:
            await authorize_patient(uow, access, patient_id)
        page = await uow.records.page(
            RecordQuery(patient_id=patient_id, record_type=record_type, limit=limit, cursor=cursor)
        )
        batches: dict[uuid.UUID, AnchorBatch | None] = {}
        opened = []
        for record in page.records:
            if record.anchor_batch_id not in batches:
                batches[record.anchor_batch_id] = await _batch(uow, record)  # type: ignore[index]
            batch = batches[record.anchor_batch_id]  # type: ignore[index]
            opened.append(_open(cipher, record, batch, reveal=patient_id is not None))
        shown = [patient_id] if patient_id is not None else _patients_of(page.records)
        for patient in shown or [None]:
            await uow.audit.record(audit, _entry("record.list", patient))
    return opened, page.next_cursor


def _patients_of(records: list[StoredRecord]) -> list[uuid.UUID]:
    """The patients whose records a page holds, each once, in the page's order."""
    return list(dict.fromkeys(record.patient_id for record in records))


async def record_content(
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    content: ContentStore,
    access: Access,
    audit: AuditContext,
    record_id: uuid.UUID,
) -> tuple[StoredRecord, AsyncIterator[bytes]]:
    """The record and its bytes from IPFS, exactly as uploaded (the caller streams them)."""
    async with uow_factory() as uow:
        record = await _authorized(uow, access, record_id)
        await uow.audit.record(audit, _entry("record.content", record_id))
    return record, content.cat(record.cid)


async def delete_record(
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    access: Access,
    audit: AuditContext,
    record_id: uuid.UUID,
) -> None:
    """Soft: the record disappears from every read now; its content is unpinned after the
    retention period (a scheduled job), and its anchor proof stays valid forever."""
    async with uow_factory() as uow:
        await _authorized(uow, access, record_id)
        await delete_patient_file(uow, uow.records, clock, access, audit, record_id, "record")


async def record_with_batch(
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    cipher: Cipher,
    access: Access,
    audit: AuditContext,
    record_id: uuid.UUID,
    action: str,
) -> OpenedRecord:
    """A record and its batch for a check or an export, audited as ``action``."""
    async with uow_factory() as uow:
        record = await _authorized(uow, access, record_id)
        opened = OpenedRecord(record=record, description=None, batch=await _batch(uow, record))
        await uow.audit.record(audit, _entry(action, record_id))
    return opened


def exported_proof(opened: OpenedRecord) -> ExportedProof:
    """What ``healthplat-verify-proof`` checks offline; Conflict until the record is batched."""
    record, batch = opened.record, opened.batch
    if batch is None or record.proof is None or record.leaf_index is None:
        raise Conflict("the record is not in an anchor batch yet", code="not_batched")
    return ExportedProof(
        record_id=str(record.id),
        cid=record.cid,
        leaf_index=record.leaf_index,
        proof=[ExportedStep(side=step.side, hash=step.hash) for step in record.proof],  # type: ignore[arg-type]
        root=batch.root.hex(),
        network=batch.network,
        source_account=batch.source_account,
        tx_hash=batch.tx_hash,
        ledger=batch.ledger,
        envelope_xdr=batch.envelope_xdr,
    )
