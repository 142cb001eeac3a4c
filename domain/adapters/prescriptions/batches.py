"""Batch prescribing's commands and each patient's outcome, in PostgreSQL; the items sealed."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from psycopg import AsyncConnection

from domain.phi.columns import PRESCRIPTION_BATCH_ITEMS
from domain.prescriptions.model import Batch, BatchOutcome, BatchPatient, ItemInput
from domain.sealing import Cipher, Sealed


def _patient(row: dict[str, Any]) -> BatchPatient:
    return BatchPatient(
        position=row["position"],
        patient_id=row["patient_id"],
        outcome=BatchOutcome(row["outcome"]) if row["outcome"] else None,
        prescription_id=row["prescription_id"],
        reason=row["reason"],
    )


class PgPrescriptionBatchRepository:
    def __init__(self, conn: AsyncConnection, cipher: Cipher) -> None:
        self._conn = conn
        self._cipher = cipher

    async def add(self, batch: Batch) -> None:
        sealed = self._cipher.seal(
            msgspec.json.encode(batch.items), PRESCRIPTION_BATCH_ITEMS.context(batch.id)
        )
        await self._conn.execute(
            """
            INSERT INTO prescription_batches (id, doctor_id, activate, items_sealed,
                                              items_key_id, created_at)
            VALUES (%s, %s, %s, %s, %s, %s)
            """,
            (batch.id, batch.doctor_id, batch.activate, sealed.blob, sealed.key_id,
             batch.created_at),
        )  # fmt: skip
        async with self._conn.cursor() as cursor:
            await cursor.executemany(
                "INSERT INTO prescription_batch_patients (batch_id, position, patient_id) "
                "VALUES (%s, %s, %s)",
                [(batch.id, p.position, p.patient_id) for p in batch.patients],
            )

    async def get(self, batch_id: uuid.UUID) -> Batch | None:
        cursor = await self._conn.execute(
            "SELECT * FROM prescription_batches WHERE id = %s", (batch_id,)
        )
        row = await cursor.fetchone()
        if row is None:
            return None
        sealed = Sealed(key_id=row["items_key_id"], blob=bytes(row["items_sealed"]))
        items = msgspec.json.decode(
            self._cipher.open(sealed, PRESCRIPTION_BATCH_ITEMS.context(batch_id)),
            type=tuple[ItemInput, ...],
        )
        return Batch(
            id=row["id"],
            doctor_id=row["doctor_id"],
            activate=row["activate"],
            items=items,
            patients=tuple(await self.outcomes(batch_id)),
            created_at=row["created_at"],
        )

    async def settle(self, batch_id: uuid.UUID, patient: BatchPatient) -> None:
        await self._conn.execute(
            """
            UPDATE prescription_batch_patients
            SET outcome = %s, prescription_id = %s, reason = %s
            WHERE batch_id = %s AND position = %s
            """,
            (
                patient.outcome.value if patient.outcome else None,
                patient.prescription_id,
                patient.reason,
                batch_id,
                patient.position,
            ),
        )

    async def outcomes(self, batch_id: uuid.UUID) -> list[BatchPatient]:
        cursor = await self._conn.execute(
            "SELECT * FROM prescription_batch_patients WHERE batch_id = %s ORDER BY position",
            (batch_id,),
        )
        return [_patient(row) for row in await cursor.fetchall()]
