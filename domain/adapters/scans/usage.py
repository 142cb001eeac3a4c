"""A patient's scans of a month, counted under a transaction-level advisory lock (to admit an
upload) or without it (to show the count)."""

from __future__ import annotations

import uuid
from datetime import datetime

from psycopg import AsyncConnection

from domain.adapters.advisory_lock import lock_key


class PgScanUsage:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def lock_and_count(self, patient_id: uuid.UUID, since: datetime) -> int:
        # released at commit or rollback; the count after it sees what the winner committed
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(%s)", (lock_key(f"scan-quota:{patient_id}"),)
        )
        return await self.count(patient_id, since)

    async def count(self, patient_id: uuid.UUID, since: datetime) -> int:
        cursor = await self._conn.execute(
            """
            SELECT (SELECT count(*) FROM scans WHERE patient_id = %(p)s AND created_at >= %(s)s)
                 + (SELECT count(*) FROM uploads
                     WHERE purpose = 'scan' AND patient_id = %(p)s AND created_at >= %(s)s)
                   AS used
            """,
            {"p": patient_id, "s": since},
        )
        row = await cursor.fetchone()
        return int(row["used"])
