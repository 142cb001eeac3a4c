"""Doctors' calendars in PostgreSQL, and the blocked ranges free-time searches step around."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

import msgspec
from psycopg import AsyncConnection

from domain.availability.model import (
    Busy,
    Calendar,
    DayException,
    WeeklyWindow,
)

# Windows as the model's fields: msgspec reads PostgreSQL's JSON times ("08:00:00"), days and
# uuids into the structs, with no row dicts in between.
_CALENDARS = """
    SELECT c.doctor_id, c.time_zone,
        (SELECT coalesce(json_agg(json_build_object(
                    'weekday', w.weekday, 'start', w.start_time, 'end', w.end_time,
                    'slot_minutes', w.slot_minutes, 'buffer_minutes', w.buffer_minutes)
                ORDER BY w.weekday, w.start_time), '[]')::text
         FROM availability_windows w WHERE w.doctor_id = c.doctor_id) AS weekly,
        (SELECT coalesce(json_agg(json_build_object(
                    'id', e.id, 'day', e.day, 'kind', e.kind,
                    'window', CASE WHEN e.start_time IS NOT NULL THEN json_build_object(
                        'start', e.start_time, 'end', e.end_time,
                        'slot_minutes', coalesce(e.slot_minutes, 0),
                        'buffer_minutes', coalesce(e.buffer_minutes, 0)) END)
                ORDER BY e.day, e.id), '[]')::text
         FROM availability_exceptions e
         WHERE e.doctor_id = c.doctor_id
           AND (%(first)s::date IS NULL OR e.day >= %(first)s::date)
           AND (%(last)s::date IS NULL OR e.day <= %(last)s::date)) AS exceptions
    FROM doctor_calendars c JOIN users u ON u.id = c.doctor_id
    WHERE c.doctor_id = ANY(%(ids)s)
      AND (NOT %(active_only)s OR (u.role = 'doctor' AND u.status = 'active'))
"""
_WEEK = msgspec.json.Decoder(tuple[WeeklyWindow, ...])
_EXCEPTIONS = msgspec.json.Decoder(tuple[DayException, ...])


class PgCalendarRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, doctor_id: uuid.UUID) -> Calendar | None:
        found = await self._read([doctor_id], active_only=False, days=None)
        return found[0] if found else None

    async def many(
        self, doctor_ids: Sequence[uuid.UUID], days: tuple[date, date] | None = None
    ) -> list[Calendar]:
        """The calendars of those of ``doctor_ids`` who are active doctors; with ``days``, only
        the exceptions on those local days (first and last included)."""
        return await self._read(doctor_ids, active_only=True, days=days)

    async def _read(
        self,
        doctor_ids: Sequence[uuid.UUID],
        *,
        active_only: bool,
        days: tuple[date, date] | None,
    ) -> list[Calendar]:
        """One statement: each calendar's windows and exceptions aggregated as JSON by the
        database and decoded straight into the model's structs."""
        first, last = days if days is not None else (None, None)
        cursor = await self._conn.execute(
            _CALENDARS,
            {"ids": list(doctor_ids), "active_only": active_only, "first": first, "last": last},
        )
        return [
            Calendar(
                doctor_id=row["doctor_id"],
                time_zone=row["time_zone"],
                weekly=_WEEK.decode(row["weekly"]),
                exceptions=_EXCEPTIONS.decode(row["exceptions"]),
            )
            for row in await cursor.fetchall()
        ]

    async def set_week(
        self, doctor_id: uuid.UUID, time_zone: str, weekly: Sequence[WeeklyWindow], now: datetime
    ) -> None:
        await self._conn.execute(
            """
            INSERT INTO doctor_calendars (doctor_id, time_zone, updated_at) VALUES (%s, %s, %s)
            ON CONFLICT (doctor_id) DO UPDATE
                SET time_zone = EXCLUDED.time_zone, updated_at = EXCLUDED.updated_at
            """,
            (doctor_id, time_zone, now),
        )
        await self._conn.execute(
            "DELETE FROM availability_windows WHERE doctor_id = %s", (doctor_id,)
        )
        async with self._conn.cursor() as cursor:
            await cursor.executemany(
                """
                INSERT INTO availability_windows
                    (doctor_id, weekday, start_time, end_time, slot_minutes, buffer_minutes)
                VALUES (%s, %s, %s, %s, %s, %s)
                """,
                [
                    (doctor_id, w.weekday, w.start, w.end, w.slot_minutes, w.buffer_minutes)
                    for w in weekly
                ],
            )

    async def add_exception(self, doctor_id: uuid.UUID, exception: DayException) -> None:
        window = exception.window
        await self._conn.execute(
            """
            INSERT INTO availability_exceptions
                (id, doctor_id, day, kind, start_time, end_time, slot_minutes, buffer_minutes)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
            """,
            (
                exception.id,
                doctor_id,
                exception.day,
                exception.kind.value,
                window.start if window else None,
                window.end if window else None,
                window.slot_minutes if window else None,
                window.buffer_minutes if window else None,
            ),
        )

    async def remove_exception(self, doctor_id: uuid.UUID, exception_id: uuid.UUID) -> bool:
        cursor = await self._conn.execute(
            "DELETE FROM availability_exceptions WHERE id = %s AND doctor_id = %s RETURNING id",
            (exception_id, doctor_id),
        )
        return await cursor.fetchone() is not None


class PgBusyTimes:
    """Held and confirmed consultations' blocked ranges (the exclusion constraint's rows)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def busy(
        self, doctor_ids: Sequence[uuid.UUID], start: datetime, until: datetime
    ) -> dict[uuid.UUID, list[Busy]]:
        cursor = await self._conn.execute(
            """
            SELECT doctor_id, starts_at, blocked_until FROM consultations
            WHERE doctor_id = ANY(%s) AND status IN ('held', 'confirmed')
              AND starts_at < %s AND blocked_until > %s
            ORDER BY doctor_id, starts_at
            """,
            (list(doctor_ids), until, start),
        )
        found: dict[uuid.UUID, list[Busy]] = {}
        for row in await cursor.fetchall():
            found.setdefault(row["doctor_id"], []).append(
                Busy(row["starts_at"], row["blocked_until"])
            )
        return found


class PgDoctorFinder:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def is_listed(self, doctor_id: uuid.UUID) -> bool:
        cursor = await self._conn.execute(
            "SELECT EXISTS (SELECT 1 FROM users WHERE id = %s AND role = 'doctor'"
            " AND status = 'active') AS yes",
            (doctor_id,),
        )
        return bool((await cursor.fetchone())["yes"])

    async def with_specialty(self, specialty: str) -> list[uuid.UUID]:
        cursor = await self._conn.execute(
            """
            SELECT u.id FROM users u JOIN doctor_profiles d ON d.user_id = u.id
            WHERE u.role = 'doctor' AND u.status = 'active' AND lower(d.specialty) = lower(%s)
            """,
            (specialty,),
        )
        return [row["id"] for row in await cursor.fetchall()]
