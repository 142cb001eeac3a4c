"""Anchor batches in PostgreSQL: each Merkle root with the transaction that carries it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from domain.anchoring.jobs import ANCHOR_BATCH
from domain.anchoring.model import AnchorBatch, BatchStatus
from domain.anchoring.ports import SignedAnchor


def batch_from_row(row: dict[str, Any]) -> AnchorBatch:
    return AnchorBatch(
        id=row["id"],
        root=bytes(row["root"]),
        leaf_count=row["leaf_count"],
        status=BatchStatus(row["status"]),
        network=row["network"],
        source_account=row["source_account"],
        envelope_xdr=row["envelope_xdr"],
        tx_hash=row["tx_hash"],
        sequence=row["sequence"],
        fee=row["fee"],
        ledger=row["ledger"],
        created_at=row["created_at"],
        anchored_at=row["anchored_at"],
    )


class PgAnchorBatchRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, batch: AnchorBatch) -> None:
        await self._conn.execute(
            """
            INSERT INTO anchor_batches (id, root, leaf_count, status, network, source_account,
                                        envelope_xdr, tx_hash, sequence, fee, ledger, created_at,
                                        anchored_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            """,
            (
                batch.id,
                batch.root,
                batch.leaf_count,
                batch.status.value,
                batch.network,
                batch.source_account,
                batch.envelope_xdr,
                batch.tx_hash,
                batch.sequence,
                batch.fee,
                batch.ledger,
                batch.created_at,
                batch.anchored_at,
            ),
        )

    async def get(self, batch_id: uuid.UUID) -> AnchorBatch | None:
        cursor = await self._conn.execute("SELECT * FROM anchor_batches WHERE id = %s", (batch_id,))
        row = await cursor.fetchone()
        return batch_from_row(row) if row else None

    async def unanchored(self, limit: int) -> list[AnchorBatch]:
        cursor = await self._conn.execute(
            """
            SELECT * FROM anchor_batches WHERE status <> 'anchored'
            ORDER BY created_at, id LIMIT %s FOR UPDATE SKIP LOCKED
            """,
            (limit,),
        )
        return [batch_from_row(row) for row in await cursor.fetchall()]

    async def run_needed(self, *, include_signed: bool) -> bool:
        cursor = await self._conn.execute(
            """
            SELECT (EXISTS (SELECT 1 FROM records WHERE anchor_batch_id IS NULL)
                    OR (%(signed)s AND EXISTS (SELECT 1 FROM anchor_batches
                                               WHERE status <> 'anchored')))
               AND NOT EXISTS (SELECT 1 FROM jobs WHERE kind = %(kind)s
                               AND status IN ('queued', 'running', 'retrying')) AS needed
            """,
            {"signed": include_signed, "kind": ANCHOR_BATCH.name},
        )
        return bool((await cursor.fetchone())["needed"])

    async def replace_envelope(self, batch_id: uuid.UUID, anchor: SignedAnchor) -> None:
        await self._conn.execute(
            """
            UPDATE anchor_batches SET envelope_xdr = %s, tx_hash = %s, sequence = %s, fee = %s
            WHERE id = %s AND status <> 'anchored'
            """,
            (anchor.envelope_xdr, anchor.tx_hash, anchor.sequence, anchor.fee, batch_id),
        )

    async def anchor(
        self, batch_id: uuid.UUID, anchor: SignedAnchor, ledger: int, at: datetime
    ) -> None:
        await self._conn.execute(
            """
            UPDATE anchor_batches
            SET status = 'anchored', envelope_xdr = %s, tx_hash = %s, sequence = %s, fee = %s,
                ledger = %s, anchored_at = %s
            WHERE id = %s
            """,
            (
                anchor.envelope_xdr,
                anchor.tx_hash,
                anchor.sequence,
                anchor.fee,
                ledger,
                at,
                batch_id,
            ),
        )
