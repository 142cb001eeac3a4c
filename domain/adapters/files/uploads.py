"""Staged uploads in PostgreSQL: one row per upload, its bytes in 256 KiB chunk rows.

Chunks are written as they arrive, before the upload's own row (the foreign
key is checked at commit), so an upload streams into the database without
being held in memory, and a refused one rolls back without a trace.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from psycopg import AsyncConnection

from domain.files.uploads import StagedUpload, UploadPurpose
from domain.phi.columns import UPLOAD_DETAILS
from domain.sealing import Sealed


class PgUploadRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add_chunk(self, upload_id: uuid.UUID, seq: int, data: bytes) -> None:
        await self._conn.execute(
            "INSERT INTO upload_chunks (upload_id, seq, data) VALUES (%s, %s, %s)",
            (upload_id, seq, data),
        )

    async def add(self, upload: StagedUpload) -> None:
        await self._conn.execute(
            """
            INSERT INTO uploads (id, job_id, purpose, patient_id, uploaded_by, size_bytes, sha256,
                                 details_sealed, details_key_id, created_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            """,
            (
                upload.id,
                upload.job_id,
                upload.purpose.value,
                upload.patient_id,
                upload.uploaded_by,
                upload.size_bytes,
                upload.sha256,
                upload.details.blob,
                upload.details.key_id,
                upload.created_at,
            ),
        )

    async def get(self, upload_id: uuid.UUID) -> StagedUpload | None:
        cursor = await self._conn.execute("SELECT * FROM uploads WHERE id = %s", (upload_id,))
        row = await cursor.fetchone()
        if row is None:
            return None
        return StagedUpload(
            id=row["id"],
            job_id=row["job_id"],
            purpose=UploadPurpose(row["purpose"]),
            patient_id=row["patient_id"],
            uploaded_by=row["uploaded_by"],
            size_bytes=row["size_bytes"],
            sha256=bytes(row["sha256"]),
            details=Sealed(
                key_id=row[UPLOAD_DETAILS.key_id_column],
                blob=bytes(row[UPLOAD_DETAILS.sealed_column]),
            ),
            created_at=row["created_at"],
        )

    async def chunks(self, upload_id: uuid.UUID) -> AsyncIterator[bytes]:
        # One chunk per round trip: a server-side cursor needs a transaction the caller may
        # not hold, and 40 small queries for a 10 MB upload cost nothing next to IPFS.
        seq = -1
        while True:
            cursor = await self._conn.execute(
                """
                SELECT seq, data FROM upload_chunks
                WHERE upload_id = %s AND seq > %s ORDER BY seq LIMIT 1
                """,
                (upload_id, seq),
            )
            row = await cursor.fetchone()
            if row is None:
                return
            seq = row["seq"]
            yield bytes(row["data"])

    async def discard(self, upload_id: uuid.UUID) -> None:
        await self._conn.execute("DELETE FROM upload_chunks WHERE upload_id = %s", (upload_id,))
        await self._conn.execute("DELETE FROM uploads WHERE id = %s", (upload_id,))
