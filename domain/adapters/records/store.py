"""Medical records in PostgreSQL, inside the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from domain.adapters.files.patient_files import PatientFileTable
from domain.adapters.keyset import cut_page
from domain.adapters.patients.store import sealed_from_row
from domain.anchoring.model import Placement, ProofStepView
from domain.phi.columns import RECORD_DESCRIPTION
from domain.records.model import AnchorStatus, RecordPage, RecordQuery, RecordType, StoredRecord


def record_from_row(row: dict[str, Any]) -> StoredRecord:
    proof = row["proof"]
    return StoredRecord(
        id=row["id"],
        patient_id=row["patient_id"],
        uploaded_by=row["uploaded_by"],
        job_id=row["job_id"],
        record_type=RecordType(row["record_type"]),
        description=sealed_from_row(row, RECORD_DESCRIPTION),
        cid=row["cid"],
        size_bytes=row["size_bytes"],
        sha256=bytes(row["sha256"]),
        anchor_status=AnchorStatus(row["anchor_status"]),
        anchor_batch_id=row["anchor_batch_id"],
        leaf_index=row["leaf_index"],
        proof=msgspec.convert(proof, list[ProofStepView]) if proof is not None else None,
        created_at=row["created_at"],
        deleted_at=row["deleted_at"],
    )


class PgRecordRepository(PatientFileTable):
    table = "records"

    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn)

    async def add(self, record: StoredRecord) -> None:
        description = record.description
        await self._conn.execute(
            """
            INSERT INTO records (id, patient_id, uploaded_by, job_id, record_type,
                                 description_sealed, description_key_id, cid, size_bytes, sha256,
                                 anchor_status, created_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            """,
            (
                record.id,
                record.patient_id,
                record.uploaded_by,
                record.job_id,
                record.record_type.value,
                description.blob if description else None,
                description.key_id if description else None,
                record.cid,
                record.size_bytes,
                record.sha256,
                record.anchor_status.value,
                record.created_at,
            ),
        )

    async def get(self, record_id: uuid.UUID) -> StoredRecord | None:
        row = await self._one("f.id = %s AND f.deleted_at IS NULL", record_id)
        return record_from_row(row) if row else None

    async def by_job(self, job_id: uuid.UUID) -> StoredRecord | None:
        row = await self._one("f.job_id = %s", job_id)
        return record_from_row(row) if row else None

    async def page(self, query: RecordQuery) -> RecordPage:
        rows = await self._page_rows(
            query.patient_id,
            query.cursor,
            query.limit,
            record_type=query.record_type.value if query.record_type else None,
        )
        records, next_cursor = cut_page([record_from_row(row) for row in rows], query.limit)
        return RecordPage(records, next_cursor)

    async def unbatched(self, limit: int) -> list[StoredRecord]:
        cursor = await self._conn.execute(
            """
            SELECT * FROM records WHERE anchor_batch_id IS NULL
            ORDER BY created_at, id LIMIT %s FOR UPDATE SKIP LOCKED
            """,
            (limit,),
        )
        return [record_from_row(row) for row in await cursor.fetchall()]

    async def place_in_batch(self, batch_id: uuid.UUID, placements: Sequence[Placement]) -> None:
        if not placements:
            return
        await self._conn.execute(
            """
            UPDATE records AS r SET anchor_batch_id = %(batch)s,
                   leaf_index = p.leaf_index, proof = p.proof
            FROM unnest(%(ids)s::uuid[], %(indexes)s::int[], %(proofs)s::jsonb[])
                 AS p(id, leaf_index, proof)
            WHERE r.id = p.id
            """,
            {
                "batch": batch_id,
                "ids": [p.record_id for p in placements],
                "indexes": [p.leaf_index for p in placements],
                "proofs": [Jsonb(msgspec.to_builtins(p.proof)) for p in placements],
            },
        )

    async def mark_anchored(self, batch_id: uuid.UUID, tx_hash: str) -> int:
        cursor = await self._conn.execute(
            """
            WITH anchored AS (
                UPDATE records SET anchor_status = 'anchored'
                WHERE anchor_batch_id = %(batch)s RETURNING job_id
            )
            UPDATE jobs SET result = coalesce(result, '{}'::jsonb)
                || jsonb_build_object('anchorStatus', 'anchored', 'stellarTxHash', %(hash)s::text)
            WHERE id IN (SELECT job_id FROM anchored)
            """,
            {"batch": batch_id, "hash": tx_hash},
        )
        return cursor.rowcount
