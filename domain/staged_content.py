"""The first half of every storing job: staged upload bytes → content storage (IPFS).

Adding the same bytes again gives the same CID and pins nothing new, so an
attempt that dies after the add and before its database write is simply run
again; the staged bytes are deleted only in the transaction that writes the
record or document pointing at the CID.
"""

from __future__ import annotations

import uuid

from domain.errors import PermanentFailure
from domain.jobs import Job
from domain.ports import ContentStore, UnitOfWorkFactory
from domain.uploads import StagedUpload, UploadPurpose


def upload_id_of(job: Job) -> uuid.UUID:
    try:
        return uuid.UUID(str(job.payload["uploadId"]))
    except (KeyError, ValueError):
        raise PermanentFailure(
            "the job does not name an upload", code="upload_payload_invalid"
        ) from None


async def staged_upload(
    uow_factory: UnitOfWorkFactory, job: Job, purpose: UploadPurpose
) -> StagedUpload:
    async with uow_factory() as uow:
        upload = await uow.uploads.get(upload_id_of(job))
    if upload is None or upload.job_id != job.id or upload.purpose is not purpose:
        raise PermanentFailure("the staged upload no longer exists", code="upload_missing")
    return upload


async def add_to_content_store(
    uow_factory: UnitOfWorkFactory, content: ContentStore, upload: StagedUpload
) -> str:
    """Stream the staged bytes into the content store (which pins them); returns the CID."""
    async with uow_factory() as uow:
        return await content.add(uow.uploads.chunks(upload.id))
