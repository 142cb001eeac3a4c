"""Documents in PostgreSQL, inside the caller's transaction: file name and data key sealed."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import AsyncConnection

from domain.adapters.files.patient_files import PatientFileTable
from domain.adapters.keyset import cut_page
from domain.documents.model import DocumentPage, DocumentQuery, StoredDocument
from domain.sealing import Sealed


def _sealed(row: dict[str, Any], name: str) -> Sealed:
    return Sealed(key_id=row[f"{name}_key_id"], blob=bytes(row[f"{name}_sealed"]))


def document_from_row(row: dict[str, Any]) -> StoredDocument:
    return StoredDocument(
        id=row["id"],
        patient_id=row["patient_id"],
        uploaded_by=row["uploaded_by"],
        job_id=row["job_id"],
        filename=_sealed(row, "filename"),
        data_key=_sealed(row, "data_key"),
        cid=row["cid"],
        size_bytes=row["size_bytes"],
        page_count=row["page_count"],
        created_at=row["created_at"],
        deleted_at=row["deleted_at"],
    )


class PgDocumentRepository(PatientFileTable):
    table = "documents"

    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn)

    async def add(self, document: StoredDocument) -> None:
        await self._conn.execute(
            """
            INSERT INTO documents (id, patient_id, uploaded_by, job_id, filename_sealed,
                                   filename_key_id, data_key_sealed, data_key_key_id, cid,
                                   size_bytes, page_count, created_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            """,
            (
                document.id,
                document.patient_id,
                document.uploaded_by,
                document.job_id,
                document.filename.blob,
                document.filename.key_id,
                document.data_key.blob,
                document.data_key.key_id,
                document.cid,
                document.size_bytes,
                document.page_count,
                document.created_at,
            ),
        )

    async def get(self, document_id: uuid.UUID) -> StoredDocument | None:
        row = await self._one("f.id = %s AND f.deleted_at IS NULL", document_id)
        return document_from_row(row) if row else None

    async def by_job(self, job_id: uuid.UUID) -> StoredDocument | None:
        row = await self._one("f.job_id = %s", job_id)
        return document_from_row(row) if row else None

    async def page(self, query: DocumentQuery) -> DocumentPage:
        rows = await self._page_rows(query.patient_id, query.cursor, query.limit)
        documents, next_cursor = cut_page([document_from_row(r) for r in rows], query.limit)
        return DocumentPage(documents, next_cursor)
