"""Medical records in PostgreSQL, inside the caller's transaction: the pipeline's repository
for the ``records`` table, and what anchoring asks of it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import msgspec
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from domain.adapters.files.patient_files import PgPatientFiles
from domain.anchoring.model import Placement
from domain.records.kind import RECORDS
from domain.records.model import StoredRecord


class PgRecordRepository(PgPatientFiles):
    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn, RECORDS)

    async def unbatched(self, limit: int) -> list[StoredRecord]:
        cursor = await self._conn.execute(
            """
            SELECT * FROM records WHERE anchor_batch_id IS NULL
            ORDER BY created_at, id LIMIT %s FOR UPDATE SKIP LOCKED
            """,
            (limit,),
        )
        return [self.from_row(row) for row in await cursor.fetchall()]  # type: ignore[misc]

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
