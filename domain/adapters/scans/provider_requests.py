"""Scans awaiting the OCR provider's callback, in PostgreSQL (``scan_provider_requests``):
codes and times only, nothing sealed (nothing read is kept here)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from domain.scans.awaiting import ProviderRequest, ProviderStatus

_COLUMNS = "scan_id, reference, status, reason, requested_at, finished_at"


def _request(row: dict[str, Any]) -> ProviderRequest:
    return ProviderRequest(
        scan_id=row["scan_id"],
        reference=row["reference"],
        status=ProviderStatus(row["status"]),
        reason=row["reason"],
        requested_at=row["requested_at"],
        finished_at=row["finished_at"],
    )


class PgProviderRequests:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def start(self, scan_id: uuid.UUID, reference: uuid.UUID, now: datetime) -> bool:
        cursor = await self._conn.execute(
            """
            INSERT INTO scan_provider_requests (scan_id, reference, status, requested_at)
            VALUES (%(scan)s, %(reference)s, 'awaiting', %(now)s)
            ON CONFLICT (scan_id) DO UPDATE SET
                reference = EXCLUDED.reference, status = 'awaiting', reason = NULL,
                requested_at = EXCLUDED.requested_at, finished_at = NULL
            WHERE NOT (scan_provider_requests.status = 'answered'
                       AND scan_provider_requests.reference = EXCLUDED.reference)
            RETURNING scan_id
            """,
            {"scan": scan_id, "reference": reference, "now": now},
        )
        return await cursor.fetchone() is not None

    async def by_reference(self, reference: uuid.UUID) -> ProviderRequest | None:
        cursor = await self._conn.execute(
            f"SELECT {_COLUMNS} FROM scan_provider_requests WHERE reference = %s FOR UPDATE",
            (reference,),
        )
        row = await cursor.fetchone()
        return _request(row) if row else None

    async def of_scan(self, scan_id: uuid.UUID) -> ProviderRequest | None:
        cursor = await self._conn.execute(
            f"SELECT {_COLUMNS} FROM scan_provider_requests WHERE scan_id = %s", (scan_id,)
        )
        row = await cursor.fetchone()
        return _request(row) if row else None

    async def finish(
        self, scan_id: uuid.UUID, status: ProviderStatus, reason: str | None, now: datetime
    ) -> bool:
        cursor = await self._conn.execute(
            """
            UPDATE scan_provider_requests
            SET status = %s, reason = %s, finished_at = %s
            WHERE scan_id = %s AND status = 'awaiting'
            RETURNING scan_id
            """,
            (status.value, reason, now, scan_id),
        )
        return await cursor.fetchone() is not None

    async def overdue(self, requested_before: datetime, limit: int) -> list[uuid.UUID]:
        cursor = await self._conn.execute(
            """
            SELECT scan_id FROM scan_provider_requests
            WHERE status = 'awaiting' AND requested_at < %s
            ORDER BY requested_at LIMIT %s
            FOR UPDATE SKIP LOCKED
            """,
            (requested_before, limit),
        )
        return [row["scan_id"] for row in await cursor.fetchall()]
