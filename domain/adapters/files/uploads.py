"""Staged uploads in PostgreSQL: one row per upload, its bytes in 256 KiB chunk rows.

Chunks are written as they arrive, before the upload's own row (the foreign
key is checked at commit), so an upload streams into the database without
being held in memory, and a refused one rolls back without a trace.

The row keeps what the upload will become as its file's row will: public
details in ``public_details``, each PHI detail in the twin of its file's column
(``domain.phi.columns.STAGED_COLUMNS``), already sealed for it. A row staged
before migration 0009 has ``details_sealed`` instead.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from domain.adapters.files.patient_files import insert_row
from domain.adapters.patients.store import sealed_from_row
from domain.files.uploads import StagedUpload
from domain.phi.columns import STAGED_COLUMNS, UPLOAD_DETAILS

_TWINS = {column.place: column for column in STAGED_COLUMNS}
CHUNKS_PER_READ = 4  # of 256 KiB


def _sealed_columns(upload: StagedUpload) -> dict[str, Any]:
    unknown = upload.sealed.keys() - _TWINS.keys()
    if unknown:  # a kind sealed a detail no column of ``uploads`` can hold: a declaration bug
        raise ValueError(f"no staging column for {sorted(unknown)}")
    columns: dict[str, Any] = {}
    for place, sealed in upload.sealed.items():
        twin = _TWINS[place]
        columns[twin.sealed_column] = sealed.blob
        columns[twin.key_id_column] = sealed.key_id
    return columns


class PgUploadRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add_chunk(self, upload_id: uuid.UUID, seq: int, data: bytes) -> None:
        await self._conn.execute(
            "INSERT INTO upload_chunks (upload_id, seq, data) VALUES (%s, %s, %s)",
            (upload_id, seq, data),
        )

    async def add(self, upload: StagedUpload) -> None:
        legacy = upload.legacy
        columns: dict[str, Any] = {
            "id": upload.id,
            "job_id": upload.job_id,
            "purpose": upload.purpose,
            "patient_id": upload.patient_id,
            "uploaded_by": upload.uploaded_by,
            "size_bytes": upload.size_bytes,
            "sha256": upload.sha256,
            "public_details": None if upload.public is None else Jsonb(upload.public),
            UPLOAD_DETAILS.sealed_column: legacy.blob if legacy else None,
            UPLOAD_DETAILS.key_id_column: legacy.key_id if legacy else None,
            "created_at": upload.created_at,
            **_sealed_columns(upload),
        }
        await insert_row(self._conn, "uploads", columns)

    async def get(self, upload_id: uuid.UUID) -> StagedUpload | None:
        cursor = await self._conn.execute("SELECT * FROM uploads WHERE id = %s", (upload_id,))
        row = await cursor.fetchone()
        if row is None:
            return None
        sealed = {place: sealed_from_row(row, twin) for place, twin in _TWINS.items()}
        return StagedUpload(
            id=row["id"],
            job_id=row["job_id"],
            purpose=row["purpose"],
            patient_id=row["patient_id"],
            uploaded_by=row["uploaded_by"],
            size_bytes=row["size_bytes"],
            sha256=bytes(row["sha256"]),
            public=row["public_details"],
            sealed={place: value for place, value in sealed.items() if value is not None},
            created_at=row["created_at"],
            legacy=sealed_from_row(row, UPLOAD_DETAILS),
        )

    async def chunks(self, upload_id: uuid.UUID) -> AsyncIterator[bytes]:
        # A few chunks per round trip (a server-side cursor needs a transaction the caller may
        # not hold): an upload of up to 1 MiB is one query, a 10 MB one ten, and no more
        # than 1 MiB of it is held at a time. A short batch is the last.
        seq = -1
        while True:
            cursor = await self._conn.execute(
                """
                SELECT seq, data FROM upload_chunks
                WHERE upload_id = %s AND seq > %s ORDER BY seq LIMIT %s
                """,
                (upload_id, seq, CHUNKS_PER_READ),
                binary=True,  # bytea as it is stored, not as hex text twice its size
            )
            rows = await cursor.fetchall()
            for row in rows:
                seq = row["seq"]
                yield bytes(row["data"])
            if len(rows) < CHUNKS_PER_READ:
                return

    async def discard(self, upload_id: uuid.UUID) -> None:
        # chunks and row in one statement, one round trip
        await self._conn.execute(
            """
            WITH chunks AS (DELETE FROM upload_chunks WHERE upload_id = %(id)s)
            DELETE FROM uploads WHERE id = %(id)s
            """,
            {"id": upload_id},
        )
