"""Where documents are kept, the PDF gate and the content cipher."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator
from datetime import datetime
from typing import Protocol

from domain.auditing import AuditLog
from domain.connections.ports import ConnectionRepository
from domain.documents.model import DocumentPage, DocumentQuery, StoredDocument
from domain.files.ports import ContentRef, UploadRepository
from domain.jobs.ports import JobRepository
from domain.patients.ports import PatientRepository


class DocumentRepository(Protocol):
    async def add(self, document: StoredDocument) -> None: ...

    async def get(self, document_id: uuid.UUID) -> StoredDocument | None: ...

    async def by_job(self, job_id: uuid.UUID) -> StoredDocument | None: ...

    async def page(self, query: DocumentQuery) -> DocumentPage: ...

    async def soft_delete(self, document_id: uuid.UUID, by: uuid.UUID, at: datetime) -> bool: ...

    async def due_for_unpin(self, deleted_before: datetime, limit: int) -> list[ContentRef]: ...

    async def mark_unpinned(self, document_id: uuid.UUID, at: datetime) -> None: ...


class PdfInspector(Protocol):
    async def page_count(self, data: bytes) -> int:
        """Pages of an acceptable PDF. Raises UnsupportedMediaType for anything not a PDF, and
        BadRequest for a PDF we refuse to keep (unreadable, encrypted, with JavaScript)."""
        ...


class ContentCipher(Protocol):
    """Streaming authenticated encryption of a document's bytes under its own data key."""

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
    """What the documents feature reads and writes in one database transaction."""

    documents: DocumentRepository
    uploads: UploadRepository
    connections: ConnectionRepository
    patients: PatientRepository
    jobs: JobRepository
    audit: AuditLog
