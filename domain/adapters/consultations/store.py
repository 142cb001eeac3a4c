"""Consultations in PostgreSQL. The exclusion constraint ``consultations_no_double_booking``
is the last word on overlapping bookings: a losing insert (or re-booking) is a Conflict."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, errors, sql

from domain.adapters.cursors import decode_position, encode_position
from domain.consultations.model import (
    Consultation,
    ConsultationFilter,
    ConsultationPage,
    ConsultationStatus,
    Period,
)
from domain.errors import Conflict
from domain.phi.columns import CONSULTATION_NOTES
from domain.sealing import Cipher, Sealed

COLUMNS = (
    "id, patient_id, doctor_id, starts_at, ends_at, blocked_until, status, room, created_at,"
    " updated_at, hold_expires_at, payment_id"
)


def consultation_from_row(row: dict[str, Any]) -> Consultation:
    return Consultation(
        id=row["id"],
        patient_id=row["patient_id"],
        doctor_id=row["doctor_id"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        blocked_until=row["blocked_until"],
        status=ConsultationStatus(row["status"]),
        room=row["room"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        hold_expires_at=row["hold_expires_at"],
        payment_id=row["payment_id"],
    )


def time_taken() -> Conflict:
    return Conflict("this time of the doctor's is taken", code="time_taken")


class PgConsultationRepository:
    def __init__(self, conn: AsyncConnection, cipher: Cipher) -> None:
        self._conn = conn
        self._cipher = cipher

    async def set_notes(self, consultation_id: uuid.UUID, notes: str) -> None:
        sealed = self._cipher.seal(notes.encode(), CONSULTATION_NOTES.context(consultation_id))
        await self._conn.execute(
            "UPDATE consultations SET notes_sealed = %s, notes_key_id = %s WHERE id = %s",
            (sealed.blob, sealed.key_id, consultation_id),
        )

    async def link_prescription(
        self, consultation_id: uuid.UUID, prescription_id: uuid.UUID, now: datetime
    ) -> bool:
        cursor = await self._conn.execute(
            """
            INSERT INTO consultation_prescriptions (consultation_id, prescription_id, linked_at)
            VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING prescription_id
            """,
            (consultation_id, prescription_id, now),
        )
        return await cursor.fetchone() is not None

    async def prescriptions(self, consultation_id: uuid.UUID) -> list[uuid.UUID]:
        cursor = await self._conn.execute(
            "SELECT prescription_id FROM consultation_prescriptions WHERE consultation_id = %s"
            " ORDER BY linked_at, prescription_id",
            (consultation_id,),
        )
        return [row["prescription_id"] for row in await cursor.fetchall()]

    async def notes(self, consultation_id: uuid.UUID) -> str | None:
        cursor = await self._conn.execute(
            "SELECT notes_sealed, notes_key_id FROM consultations WHERE id = %s",
            (consultation_id,),
        )
        row = await cursor.fetchone()
        if row is None or row["notes_sealed"] is None:
            return None
        sealed = Sealed(key_id=row["notes_key_id"], blob=bytes(row["notes_sealed"]))
        return self._cipher.open(sealed, CONSULTATION_NOTES.context(consultation_id)).decode()

    async def add(
        self, consultation: Consultation, idempotency_key: str | None, fingerprint: bytes
    ) -> None:
        c = consultation
        try:
            async with self._conn.transaction():  # a savepoint: the caller's transaction lives on
                await self._conn.execute(
                    f"""
                    INSERT INTO consultations ({COLUMNS}, idempotency_key, request_fingerprint)
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                    """,
                    (
                        c.id,
                        c.patient_id,
                        c.doctor_id,
                        c.starts_at,
                        c.ends_at,
                        c.blocked_until,
                        c.status.value,
                        c.room,
                        c.created_at,
                        c.updated_at,
                        c.hold_expires_at,
                        c.payment_id,
                        idempotency_key,
                        fingerprint,
                    ),
                )
        except (errors.ExclusionViolation, errors.DeadlockDetected):
            # two holds of one time at once both wait on each other's row; PostgreSQL breaks
            # the tie by aborting one: the other has the time
            raise time_taken() from None
        except errors.UniqueViolation:
            raise Conflict(
                "a request with this Idempotency-Key is running", code="idempotency_key_race"
            ) from None

    async def _one(self, where: str, params: tuple[Any, ...], lock: bool) -> Consultation | None:
        suffix = " FOR UPDATE" if lock else ""
        cursor = await self._conn.execute(
            f"SELECT {COLUMNS} FROM consultations WHERE {where}{suffix}", params
        )
        row = await cursor.fetchone()
        return consultation_from_row(row) if row else None

    async def get(self, consultation_id: uuid.UUID, *, lock: bool = False) -> Consultation | None:
        return await self._one("id = %s", (consultation_id,), lock)

    async def by_payment(self, payment_id: uuid.UUID, *, lock: bool = False) -> Consultation | None:
        return await self._one("payment_id = %s", (payment_id,), lock)

    async def by_key(
        self, patient_id: uuid.UUID, idempotency_key: str
    ) -> tuple[Consultation, bytes] | None:
        cursor = await self._conn.execute(
            f"SELECT {COLUMNS}, request_fingerprint FROM consultations"
            " WHERE patient_id = %s AND idempotency_key = %s",
            (patient_id, idempotency_key),
        )
        row = await cursor.fetchone()
        return (consultation_from_row(row), bytes(row["request_fingerprint"])) if row else None

    async def move(
        self,
        consultation_id: uuid.UUID,
        source: ConsultationStatus,
        target: ConsultationStatus,
        now: datetime,
    ) -> Consultation | None:
        try:
            async with self._conn.transaction():
                cursor = await self._conn.execute(
                    f"""
                    UPDATE consultations SET status = %s, updated_at = %s,
                        hold_expires_at = CASE WHEN %s = 'held' THEN hold_expires_at END
                    WHERE id = %s AND status = %s
                    RETURNING {COLUMNS}
                    """,
                    (target.value, now, target.value, consultation_id, source.value),
                )
                row = await cursor.fetchone()
        except (errors.ExclusionViolation, errors.DeadlockDetected):
            return None  # re-booking a released time someone else now holds
        return consultation_from_row(row) if row else None

    async def to_release(self, now: datetime, limit: int) -> Sequence[uuid.UUID]:
        cursor = await self._conn.execute(
            """
            SELECT c.id FROM consultations c LEFT JOIN payments p ON p.id = c.payment_id
            WHERE c.status = 'held'
              AND (c.hold_expires_at <= %s OR p.status IN ('failed', 'expired'))
            ORDER BY c.hold_expires_at
            LIMIT %s
            """,
            (now, limit),
        )
        return [row["id"] for row in await cursor.fetchall()]

    async def reschedule(
        self,
        consultation: Consultation,
        starts_at: datetime,
        ends_at: datetime,
        blocked_until: datetime,
        now: datetime,
    ) -> Consultation | None:
        try:
            async with self._conn.transaction():
                cursor = await self._conn.execute(
                    f"""
                    UPDATE consultations
                    SET starts_at = %s, ends_at = %s, blocked_until = %s, updated_at = %s,
                        reminders_sent = 0
                    WHERE id = %s AND status = %s AND starts_at = %s
                    RETURNING {COLUMNS}
                    """,
                    (
                        starts_at,
                        ends_at,
                        blocked_until,
                        now,
                        consultation.id,
                        consultation.status.value,
                        consultation.starts_at,
                    ),
                )
                row = await cursor.fetchone()
        except (errors.ExclusionViolation, errors.DeadlockDetected):
            raise time_taken() from None
        return consultation_from_row(row) if row else None

    async def to_remind(self, now: datetime, limit: int) -> Sequence[tuple[Consultation, int]]:
        cursor = await self._conn.execute(
            f"""
            SELECT {COLUMNS},
                   CASE WHEN starts_at <= %(now)s + interval '1 hour' THEN 2 ELSE 1 END AS due
            FROM consultations
            WHERE status = 'confirmed' AND reminders_sent < 2 AND starts_at > %(now)s
              AND ((reminders_sent = 0 AND starts_at <= %(now)s + interval '24 hours')
                   OR starts_at <= %(now)s + interval '1 hour')
            ORDER BY starts_at
            LIMIT %(limit)s
            """,
            {"now": now, "limit": limit},
        )
        return [(consultation_from_row(row), row["due"]) for row in await cursor.fetchall()]

    async def reminded(
        self, consultation_id: uuid.UUID, reminder: int, starts_at: datetime
    ) -> bool:
        cursor = await self._conn.execute(
            """
            UPDATE consultations SET reminders_sent = %s
            WHERE id = %s AND starts_at = %s AND reminders_sent < %s AND status = 'confirmed'
            RETURNING id
            """,
            (reminder, consultation_id, starts_at, reminder),
        )
        return await cursor.fetchone() is not None

    async def page(self, query: ConsultationFilter, now: datetime) -> ConsultationPage:
        upcoming = query.period is Period.UPCOMING
        params: dict[str, object] = {"now": now, "limit": query.limit + 1}
        where = [sql.SQL("ends_at > %(now)s" if upcoming else "ends_at <= %(now)s")]
        for column in ("party_id", "status", "patient_id", "doctor_id", "start", "end"):
            value = getattr(query, column)
            if value is not None:
                params[column] = value.value if column == "status" else value
                where.append(sql.SQL(_FILTERS[column]))
        if query.cursor is not None:
            at, row_id = decode_position(query.cursor)
            params.update(c_at=at, c_id=row_id)
            where.append(
                sql.SQL("(starts_at, id) {} (%(c_at)s, %(c_id)s)").format(
                    sql.SQL(">" if upcoming else "<")
                )
            )
        order = sql.SQL("ASC" if upcoming else "DESC")
        statement = sql.SQL(
            "SELECT {columns} FROM consultations WHERE {where}"
            " ORDER BY starts_at {order}, id {order} LIMIT %(limit)s"
        ).format(columns=sql.SQL(COLUMNS), where=sql.SQL(" AND ").join(where), order=order)
        cursor = await self._conn.execute(statement, params)
        found = [consultation_from_row(row) for row in await cursor.fetchall()]
        items = found[: query.limit]
        more = len(found) > query.limit
        next_cursor = encode_position(items[-1].starts_at, items[-1].id) if more else None
        return ConsultationPage(items=items, next_cursor=next_cursor)


_FILTERS = {
    "party_id": "(patient_id = %(party_id)s OR doctor_id = %(party_id)s)",
    "status": "status = %(status)s",
    "patient_id": "patient_id = %(patient_id)s",
    "doctor_id": "doctor_id = %(doctor_id)s",
    "start": "starts_at >= %(start)s",
    "end": "starts_at < %(end)s",
}
