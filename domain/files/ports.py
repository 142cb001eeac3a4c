"""Where staged uploads wait, and the content store (IPFS) that keeps files."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator
from typing import Protocol

import msgspec

from domain.auditing import AuditLog
from domain.connections.ports import ConnectionRepository
from domain.files.uploads import StagedUpload
from domain.jobs.ports import JobRepository
from domain.patients.ports import PatientRepository


class ContentStore(Protocol):
    """Content-addressed storage: a Kubo-RPC IPFS node, or the embedded block store.

    CIDs are CIDv1 text in base32 (``bafk...`` / ``bafy...``), made the way Kubo makes
    them with ``cid-version=1``: 256 KiB chunks, raw leaves, balanced dag-pb tree of at
    most 174 links per node, sha2-256. The same bytes give the same CID in every store.
    Raises ContentUnavailable when the store cannot be reached (after its own short
    retries) and ContentMissing when it holds no such content.
    """

    async def add(self, chunks: AsyncIterable[bytes]) -> str:
        """Store and pin the joined ``chunks``; returns their CID. Adding again is harmless."""
        ...

    def cat(self, cid: str) -> AsyncIterator[bytes]:
        """The content's bytes, exactly as added, in pieces (never the whole in memory)."""
        ...

    async def unpin(self, cid: str) -> None:
        """Let the store forget the content (a node may garbage-collect it). Idempotent."""
        ...

    async def ping(self) -> None:
        """Raises ContentUnavailable unless the store answers (readiness checks)."""
        ...

    async def close(self) -> None: ...


class UploadRepository(Protocol):
    """Staged upload bytes; chunks may be written before their upload row (same transaction)."""

    async def add_chunk(self, upload_id: uuid.UUID, seq: int, data: bytes) -> None: ...

    async def add(self, upload: StagedUpload) -> None: ...

    async def get(self, upload_id: uuid.UUID) -> StagedUpload | None: ...

    def chunks(self, upload_id: uuid.UUID) -> AsyncIterator[bytes]:
        """The staged bytes in order, a chunk at a time."""
        ...

    async def discard(self, upload_id: uuid.UUID) -> None:
        """Remove the upload and its chunks (once stored elsewhere, or when not kept)."""
        ...


class ContentRef(msgspec.Struct, frozen=True):
    id: uuid.UUID
    cid: str


class UnitOfWork(Protocol):
    """What the files feature reads and writes in one database transaction."""

    uploads: UploadRepository
    jobs: JobRepository
    audit: AuditLog
    connections: ConnectionRepository
    patients: PatientRepository
