"""The ``document.store`` job: the already-encrypted staged bytes to IPFS, then the row.

The API encrypted the PDF before staging it, so IPFS (and the staging
tables) only ever hold ciphertext; the data key moves from the upload's
sealed details to the document's own sealed column.
"""

from __future__ import annotations

from typing import Any

import msgspec

from domain.clock import Clock
from domain.documents.model import DocumentDetails, StoredDocument
from domain.documents.ports import UnitOfWork
from domain.files.ports import ContentStore
from domain.files.staging import UploadPayload, add_to_content_store, staged_upload
from domain.files.uploads import UploadPurpose
from domain.jobs.model import Job
from domain.phi.columns import DOCUMENT_DATA_KEY, DOCUMENT_FILENAME, UPLOAD_DETAILS
from domain.sealing import Cipher
from domain.transactions import UnitOfWorkFactory


def _result(document: StoredDocument) -> dict[str, Any]:
    return {"documentId": str(document.id), "cid": document.cid}


async def store_document(
    job: Job,
    payload: UploadPayload,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    content: ContentStore,
    cipher: Cipher,
    clock: Clock,
) -> dict[str, Any]:
    async with uow_factory() as unit:
        done = await unit.documents.by_job(job.id)
    if done is not None:
        return _result(done)
    upload = await staged_upload(uow_factory, job, payload, UploadPurpose.DOCUMENT)
    cid = await add_to_content_store(uow_factory, content, upload)
    details = msgspec.json.decode(
        cipher.open(upload.details, UPLOAD_DETAILS.context(upload.id)), type=DocumentDetails
    )
    document = StoredDocument(
        id=upload.id,
        patient_id=upload.patient_id,
        uploaded_by=upload.uploaded_by,
        job_id=job.id,
        filename=cipher.seal(details.filename.encode(), DOCUMENT_FILENAME.context(upload.id)),
        data_key=cipher.seal(details.data_key, DOCUMENT_DATA_KEY.context(upload.id)),
        cid=cid,
        size_bytes=details.size_bytes,
        page_count=details.page_count,
        created_at=clock.now(),
    )
    async with uow_factory() as unit:
        await unit.documents.add(document)
        await unit.uploads.discard(upload.id)
    return _result(document)
