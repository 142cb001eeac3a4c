"""The first half of every storing job: staged upload bytes → content storage (IPFS).

Adding the same bytes again gives the same CID and pins nothing new, so an
attempt that dies after the add and before its database write is simply run
again; the staged bytes are deleted only in the transaction that writes the
record or document pointing at the CID.
"""

from __future__ import annotations

import uuid

import msgspec

from domain.errors import PermanentFailure
from domain.files.ports import ContentStore, UnitOfWork, UploadRepository
from domain.files.uploads import Rechunker, StagedBytes, StagedUpload, UploadMeter
from domain.jobs.model import Job
from domain.transactions import UnitOfWorkFactory


class UploadPayload(msgspec.Struct, frozen=True, rename="camel"):
    """What a storing job's payload names: the staged upload, nothing else."""

    upload_id: uuid.UUID


async def staged_upload(
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    job: Job,
    payload: UploadPayload,
    purpose: str,
) -> StagedUpload:
    """The upload the job stores: staged for this job, as a file of kind ``purpose``."""
    async with uow_factory() as uow:
        upload = await uow.uploads.get(payload.upload_id)
    if upload is None or upload.job_id != job.id or upload.purpose != purpose:
        raise PermanentFailure("the staged upload no longer exists", code="upload_missing")
    return upload


async def add_to_content_store(
    uow_factory: UnitOfWorkFactory[UnitOfWork], content: ContentStore, upload: StagedUpload
) -> str:
    """Stream the staged bytes into the content store (which pins them); returns the CID."""
    async with uow_factory() as uow:
        return await content.add(uow.uploads.chunks(upload.id))


class StagingWriter:
    """Streams an upload into the staging tables of the caller's transaction, as it arrives."""

    def __init__(self, uploads: UploadRepository, limit: int, what: str) -> None:
        self.upload_id = uuid.uuid4()
        self._uploads = uploads
        self._meter = UploadMeter(limit, what)
        self._chunks = Rechunker()
        self._seq = 0

    async def write(self, data: bytes) -> None:
        self._meter.count(data)
        for chunk in self._chunks.feed(data):
            await self._store(chunk)

    async def finish(self) -> StagedBytes:
        for chunk in self._chunks.finish():
            await self._store(chunk)
        return StagedBytes(self.upload_id, self._meter.size, self._meter.sha256)

    async def _store(self, chunk: bytes) -> None:
        await self._uploads.add_chunk(self.upload_id, self._seq, chunk)
        self._seq += 1
