"""The ``record.store`` job: staged bytes to IPFS, then the record row.

IPFS failing is retried by the job's schedule and in the end fails the job
with no record row written (the staged bytes stay, so an operator's retry
can still finish it). The result tells the client the record id and CID; the
anchoring job fills in the Stellar transaction hash once the batch lands.
"""

from __future__ import annotations

from typing import Any

import msgspec

from domain.clock import Clock
from domain.files.ports import ContentStore
from domain.files.staging import UploadPayload, add_to_content_store, staged_upload
from domain.files.uploads import UploadPurpose
from domain.jobs.model import Job
from domain.phi.columns import RECORD_DESCRIPTION, UPLOAD_DETAILS
from domain.records.model import AnchorStatus, RecordDetails, StoredRecord, record_job_result
from domain.records.ports import UnitOfWork
from domain.sealing import Cipher
from domain.transactions import UnitOfWorkFactory


def _result(record: StoredRecord, tx_hash: str | None = None) -> dict[str, Any]:
    return record_job_result(record.id, record.cid, record.anchor_status, tx_hash)


async def store_record(
    job: Job,
    payload: UploadPayload,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    content: ContentStore,
    cipher: Cipher,
    clock: Clock,
) -> dict[str, Any]:
    async with uow_factory() as unit:
        done = await unit.records.by_job(job.id)
    if done is not None:  # an earlier attempt wrote it and died before recording success
        return _result(done)
    upload = await staged_upload(uow_factory, job, payload, UploadPurpose.RECORD)
    cid = await add_to_content_store(uow_factory, content, upload)
    details = msgspec.json.decode(
        cipher.open(upload.details, UPLOAD_DETAILS.context(upload.id)), type=RecordDetails
    )
    description = None
    if details.description is not None:
        description = cipher.seal(
            details.description.encode(), RECORD_DESCRIPTION.context(upload.id)
        )
    record = StoredRecord(
        id=upload.id,
        patient_id=upload.patient_id,
        uploaded_by=upload.uploaded_by,
        job_id=job.id,
        record_type=details.record_type,
        description=description,
        cid=cid,
        size_bytes=upload.size_bytes,
        sha256=upload.sha256,
        anchor_status=AnchorStatus.PENDING,
        anchor_batch_id=None,
        leaf_index=None,
        proof=None,
        created_at=clock.now(),
    )
    async with uow_factory() as unit:
        await unit.records.add(record)
        await unit.uploads.discard(upload.id)
    return _result(record)
