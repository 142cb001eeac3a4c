"""The first half of every storing job: staged upload bytes → content storage (IPFS).

Adding the same bytes again gives the same CID and pins nothing new, so an
attempt that dies after the add and before its database write is simply run
again; the staged bytes are deleted only in the transaction that writes the
record or document pointing at the CID.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import msgspec

from domain.errors import PermanentFailure
from domain.files.model import StoredFile
from domain.files.ports import ContentStore, UnitOfWork, UploadRepository
from domain.files.uploads import Rechunker, StagedBytes, StagedUpload, UploadMeter
from domain.jobs.model import Job
from domain.transactions import UnitOfWorkFactory


class UploadPayload(msgspec.Struct, frozen=True, rename="camel"):
    """What a storing job's payload names: the staged upload, nothing else."""

    upload_id: uuid.UUID


# Staged bytes up to this size are read in the transaction that finds the upload, and added
# to the content store from memory once it has committed: one transaction for the whole
# read, and no pooled connection held while the node takes the bytes. Larger uploads
# stream from PostgreSQL as the node takes them (never whole in memory).
READ_AHEAD_BYTES = 1024 * 1024


class Staged(msgspec.Struct, frozen=True):
    """What a storing job found in one transaction: the file an earlier attempt wrote, or
    the upload to store and, for a small one, its bytes."""

    done: StoredFile | None = None
    upload: StagedUpload | None = None
    held: list[bytes] | None = None  # the staged bytes, when they were read ahead


def checked_upload(
    upload: StagedUpload | None, job: Job, payload: UploadPayload, purpose: str
) -> StagedUpload:
    """The upload the job stores: staged for this job, as a file of kind ``purpose``."""
    if upload is None or upload.job_id != job.id or upload.purpose != purpose:
        raise PermanentFailure("the staged upload no longer exists", code="upload_missing")
    return upload


async def find_staged(
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    job: Job,
    payload: UploadPayload,
    kind_name: str,
    table: str,
) -> Staged:
    """In one transaction: the file this job already wrote (a repeated attempt), else its
    upload, checked, with the bytes of a small one."""
    async with uow_factory() as uow:
        done = await uow.files[table].by_job(job.id)
        if done is not None:
            return Staged(done=done)
        upload = checked_upload(await uow.uploads.get(payload.upload_id), job, payload, kind_name)
        if upload.size_bytes > READ_AHEAD_BYTES:
            return Staged(upload=upload)
        return Staged(upload=upload, held=[chunk async for chunk in uow.uploads.chunks(upload.id)])


async def _replay(pieces: list[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def add_to_content_store(
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    content: ContentStore,
    upload: StagedUpload,
    held: list[bytes] | None = None,
) -> str:
    """The staged bytes into the content store (which pins them); returns the CID. ``held``:
    the bytes already read; else they stream from staging as the store takes them."""
    if held is not None:
        return await content.add(_replay(held))
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
