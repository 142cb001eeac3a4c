"""What the file pipeline needs: the content store (IPFS), where uploads wait, where each kind's
files are kept, and, for kinds we encrypt, the content cipher and the PDF inspector."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from datetime import datetime
from typing import Protocol

from domain.auditing import AuditLog
from domain.connections.ports import ConnectionRepository
from domain.files.model import ContentRef, FilePage, FileQuery, StoredFile
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


class FileRepository(Protocol):
    """One kind's stored files, in its own table, inside the caller's transaction."""

    async def add(self, file: StoredFile) -> None: ...

    async def get(self, file_id: uuid.UUID) -> StoredFile | None:
        """A file that is not deleted."""
        ...

    async def by_job(self, job_id: uuid.UUID) -> StoredFile | None:
        """The file its storing job wrote, deleted or not (a repeated attempt finds it)."""
        ...

    async def page(self, query: FileQuery) -> FilePage:
        """Files not deleted, newest first."""
        ...

    async def soft_delete(self, file_id: uuid.UUID, by: uuid.UUID, at: datetime) -> bool: ...

    async def due_for_unpin(self, deleted_before: datetime, limit: int) -> list[ContentRef]:
        """Files deleted before ``deleted_before`` whose CID no live file of the kind still uses."""
        ...

    async def mark_unpinned(self, file_id: uuid.UUID, at: datetime) -> None: ...


class PdfInspector(Protocol):
    async def page_count(self, data: bytes) -> int:
        """Pages of an acceptable PDF. Raises UnsupportedMediaType for anything not a PDF, and
        BadRequest for a PDF we refuse to keep (unreadable, encrypted, with JavaScript)."""
        ...


class ContentCipher(Protocol):
    """Streaming authenticated encryption of a file's bytes under its own data key."""

    def new_data_key(self) -> bytes: ...

    def encrypt(
        self, key: bytes, chunks: AsyncIterable[bytes], context: bytes
    ) -> AsyncIterator[bytes]: ...

    def decrypt(
        self, key: bytes, chunks: AsyncIterable[bytes], context: bytes
    ) -> AsyncIterator[bytes]:
        """Raises SealBroken on any alteration, truncation or wrong key/context."""
        ...


class UnitOfWork(Protocol):
    """What the files feature reads and writes in one database transaction."""

    uploads: UploadRepository
    files: Mapping[str, FileRepository]  # every kind's files, by its table ("records")
    jobs: JobRepository
    audit: AuditLog
    connections: ConnectionRepository
    patients: PatientRepository
