"""Scans' readings in PostgreSQL: the reading sealed whole as JSON, bound to its scan."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from psycopg import AsyncConnection

from domain.phi.columns import SCAN_READING
from domain.scans.model import ScanReading
from domain.sealing import Cipher, Sealed


class PgScanReadings:
    def __init__(self, conn: AsyncConnection, cipher: Cipher) -> None:
        self._conn = conn
        self._cipher = cipher

    async def put(self, reading: ScanReading) -> None:
        sealed = self._cipher.seal(
            msgspec.json.encode(reading), SCAN_READING.context(reading.scan_id)
        )
        await self._conn.execute(
            """
            INSERT INTO scan_readings (scan_id, patient_id, engine, found_nothing, items,
                                       reading_sealed, reading_key_id, created_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (scan_id) DO UPDATE SET
                engine = EXCLUDED.engine, found_nothing = EXCLUDED.found_nothing,
                items = EXCLUDED.items, reading_sealed = EXCLUDED.reading_sealed,
                reading_key_id = EXCLUDED.reading_key_id, created_at = EXCLUDED.created_at
            """,
            (
                reading.scan_id,
                reading.patient_id,
                reading.engine,
                reading.draft.found_nothing,
                len(reading.draft.items),
                sealed.blob,
                sealed.key_id,
                reading.created_at,
            ),
        )

    async def confirm(self, scan_id: uuid.UUID, prescription_id: uuid.UUID, at: datetime) -> bool:
        cursor = await self._conn.execute(
            """
            UPDATE scan_readings SET prescription_id = %s, confirmed_at = %s
            WHERE scan_id = %s AND prescription_id IS NULL
            RETURNING scan_id
            """,
            (prescription_id, at, scan_id),
        )
        return await cursor.fetchone() is not None

    async def get(self, scan_id: uuid.UUID) -> ScanReading | None:
        cursor = await self._conn.execute(
            "SELECT reading_sealed, reading_key_id FROM scan_readings WHERE scan_id = %s",
            (scan_id,),
        )
        row = await cursor.fetchone()
        if row is None:
            return None
        sealed = Sealed(key_id=row["reading_key_id"], blob=bytes(row["reading_sealed"]))
        plain = self._cipher.open(sealed, SCAN_READING.context(scan_id))
        return msgspec.json.decode(plain, type=ScanReading)
