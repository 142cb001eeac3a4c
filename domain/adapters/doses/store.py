"""Doses in PostgreSQL, inside the caller's transaction.

Each status change is one statement that moves the dose and appends its ``dose_events``
row together (a data-modifying CTE), so the trail the adherence roll-ups read cannot
miss a change. A skip's reason is sealed, bound to the dose's id.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from psycopg import AsyncConnection

from domain.doses.model import Dose, DoseEventKind, DoseStatus
from domain.errors import Conflict
from domain.phi.columns import DOSE_REASON
from domain.sealing import Cipher, Sealed

# Moves one dose and records the move: {set} is the new values, {where} the guard.
_MOVE = """
WITH before AS (
    SELECT id, status FROM doses WHERE id = %(id)s FOR UPDATE
), moved AS (
    UPDATE doses d SET {set}, updated_at = %(now)s
    FROM before b WHERE d.id = b.id AND b.status = ANY(%(sources)s)
    RETURNING d.*, b.status AS from_status
), logged AS (
    INSERT INTO dose_events (dose_id, patient_id, prescription_id, kind, from_status,
                             to_status, late, due_at, at)
    SELECT id, patient_id, prescription_id, %(kind)s, from_status, status, late, due_at, %(now)s
    FROM moved
)
SELECT * FROM moved
"""
MARKABLE = ["scheduled", "taken", "skipped", "missed"]


class PgDoseRepository:
    def __init__(self, conn: AsyncConnection, cipher: Cipher) -> None:
        self._conn = conn
        self._cipher = cipher

    def _dose(self, row: dict[str, Any]) -> Dose:
        reason = None
        if row["reason_sealed"] is not None:
            sealed = Sealed(key_id=row["reason_key_id"], blob=bytes(row["reason_sealed"]))
            reason = self._cipher.open(sealed, DOSE_REASON.context(row["id"])).decode()
        return Dose(
            id=row["id"],
            patient_id=row["patient_id"],
            prescription_id=row["prescription_id"],
            item_id=row["item_id"],
            due_at=row["due_at"],
            local_date=row["local_date"],
            amount=row["amount"],
            status=DoseStatus(row["status"]),
            late=row["late"],
            taken_at=row["taken_at"],
            reason=reason,
            updated_at=row["updated_at"],
        )

    async def add_many(self, doses: Sequence[Dose]) -> int:
        if not doses:
            return 0
        cursor = await self._conn.execute(
            """
            INSERT INTO doses (id, patient_id, prescription_id, item_id, due_at, local_date,
                               amount, status, updated_at)
            SELECT * FROM unnest(%s::uuid[], %s::uuid[], %s::uuid[], %s::uuid[],
                                 %s::timestamptz[], %s::date[], %s::text[], %s::text[],
                                 %s::timestamptz[])
            ON CONFLICT (item_id, due_at) DO NOTHING
            RETURNING id
            """,
            (
                [d.id for d in doses],
                [d.patient_id for d in doses],
                [d.prescription_id for d in doses],
                [d.item_id for d in doses],
                [d.due_at for d in doses],
                [d.local_date for d in doses],
                [d.amount for d in doses],
                [d.status.value for d in doses],
                [d.updated_at for d in doses],
            ),
        )
        return len(await cursor.fetchall())

    async def get(self, dose_id: uuid.UUID, *, lock: bool = False) -> Dose | None:
        query = "SELECT * FROM doses WHERE id = %s" + (" FOR UPDATE" if lock else "")
        cursor = await self._conn.execute(query, (dose_id,))
        row = await cursor.fetchone()
        return self._dose(row) if row else None

    async def page(
        self,
        patient_id: uuid.UUID,
        *,
        since: datetime,
        until: datetime,
        prescription_id: uuid.UUID | None,
        limit: int,
    ) -> list[Dose]:
        cursor = await self._conn.execute(
            """
            SELECT * FROM doses
            WHERE patient_id = %(patient)s AND due_at >= %(since)s AND due_at < %(until)s
                  AND (%(prescription)s::uuid IS NULL OR prescription_id = %(prescription)s)
            ORDER BY due_at, id
            LIMIT %(limit)s
            """,
            {
                "patient": patient_id,
                "since": since,
                "until": until,
                "prescription": prescription_id,
                "limit": limit,
            },
        )
        return [self._dose(row) for row in await cursor.fetchall()]

    async def _move(self, set_clause: str, params: dict[str, Any]) -> Dose:
        cursor = await self._conn.execute(_MOVE.format(set=set_clause), params)
        row = await cursor.fetchone()
        if row is None:  # the caller checked the status under the same lock: a bug gets here
            raise Conflict("the dose changed meanwhile; try again")
        return self._dose(row)

    async def mark_taken(
        self, dose_id: uuid.UUID, kind: DoseEventKind, taken_at: datetime, late: bool, now: datetime
    ) -> Dose:
        return await self._move(
            "status = 'taken', taken_at = %(taken)s, late = %(late)s, "
            "reason_sealed = NULL, reason_key_id = NULL",
            {
                "id": dose_id,
                "kind": kind.value,
                "taken": taken_at,
                "late": late,
                "now": now,
                "sources": MARKABLE,
            },
        )

    async def mark_skipped(
        self, dose_id: uuid.UUID, kind: DoseEventKind, reason: str, now: datetime
    ) -> Dose:
        sealed = self._cipher.seal(reason.encode(), DOSE_REASON.context(dose_id))
        return await self._move(
            "status = 'skipped', taken_at = NULL, late = false, "
            "reason_sealed = %(blob)s, reason_key_id = %(key)s",
            {
                "id": dose_id,
                "kind": kind.value,
                "blob": sealed.blob,
                "key": sealed.key_id,
                "now": now,
                "sources": MARKABLE,
            },
        )

    async def mark_missed(self, due_before: datetime, now: datetime, limit: int) -> int:
        cursor = await self._conn.execute(
            """
            WITH due AS (
                SELECT id FROM doses WHERE status = 'scheduled' AND due_at < %(before)s
                ORDER BY due_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED
            ), moved AS (
                UPDATE doses d SET status = 'missed', updated_at = %(now)s
                FROM due WHERE d.id = due.id
                RETURNING d.*
            ), logged AS (
                INSERT INTO dose_events (dose_id, patient_id, prescription_id, kind,
                                         from_status, to_status, due_at, at)
                SELECT id, patient_id, prescription_id, 'missed', 'scheduled', 'missed',
                       due_at, %(now)s
                FROM moved
            )
            SELECT count(*) AS n FROM moved
            """,
            {"before": due_before, "now": now, "limit": limit},
        )
        return (await cursor.fetchone())["n"]

    async def cancel_scheduled(
        self, prescription_id: uuid.UUID, due_after: datetime, now: datetime
    ) -> int:
        cursor = await self._conn.execute(
            """
            WITH moved AS (
                UPDATE doses SET status = 'cancelled', updated_at = %(now)s
                WHERE prescription_id = %(prescription)s AND status = 'scheduled'
                      AND due_at > %(after)s
                RETURNING *
            ), logged AS (
                INSERT INTO dose_events (dose_id, patient_id, prescription_id, kind,
                                         from_status, to_status, due_at, at)
                SELECT id, patient_id, prescription_id, 'cancelled', 'scheduled', 'cancelled',
                       due_at, %(now)s
                FROM moved
            )
            SELECT count(*) AS n FROM moved
            """,
            {"prescription": prescription_id, "after": due_after, "now": now},
        )
        return (await cursor.fetchone())["n"]

    async def drop_scheduled(self, patient_id: uuid.UUID, due_after: datetime) -> int:
        cursor = await self._conn.execute(
            "DELETE FROM doses WHERE patient_id = %s AND status = 'scheduled' AND due_at > %s "
            "RETURNING id",
            (patient_id, due_after),
        )
        return len(await cursor.fetchall())

    async def settled_after(
        self, patient_id: uuid.UUID, due_after: datetime
    ) -> list[tuple[uuid.UUID, date]]:
        cursor = await self._conn.execute(
            "SELECT item_id, local_date FROM doses WHERE patient_id = %s AND due_at > %s "
            "AND status NOT IN ('scheduled', 'cancelled') ORDER BY due_at",
            (patient_id, due_after),
        )
        return [(row["item_id"], row["local_date"]) for row in await cursor.fetchall()]

    async def any_scheduled(self, due_before: datetime, *, unreminded: bool = False) -> bool:
        cursor = await self._conn.execute(
            """
            SELECT EXISTS (SELECT 1 FROM doses
                           WHERE status = 'scheduled' AND due_at < %s
                                 AND (NOT %s OR reminded_at IS NULL)) AS yes
            """,
            (due_before, unreminded),
        )
        return bool((await cursor.fetchone())["yes"])

    async def to_remind(self, due_before: datetime, limit: int) -> list[Dose]:
        cursor = await self._conn.execute(
            """
            SELECT * FROM doses
            WHERE status = 'scheduled' AND reminded_at IS NULL AND due_at <= %s
            ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED
            """,
            (due_before, limit),
        )
        return [self._dose(row) for row in await cursor.fetchall()]

    async def reminded(self, dose_ids: Sequence[uuid.UUID], at: datetime) -> None:
        await self._conn.execute(
            "UPDATE doses SET reminded_at = %s WHERE id = ANY(%s)", (at, list(dose_ids))
        )


class PgTimeZones:
    """A patient's IANA time zone, a column of their profile ('UTC' until they set one)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def of(self, patient_id: uuid.UUID) -> str:
        cursor = await self._conn.execute(
            "SELECT time_zone FROM patient_profiles WHERE user_id = %s", (patient_id,)
        )
        row = await cursor.fetchone()
        return row["time_zone"] if row else "UTC"

    async def set(self, patient_id: uuid.UUID, time_zone: str) -> None:
        await self._conn.execute(
            "UPDATE patient_profiles SET time_zone = %s WHERE user_id = %s",
            (time_zone, patient_id),
        )
