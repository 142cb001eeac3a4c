"""Doctors' calendars in PostgreSQL, and the blocked ranges free-time searches step around."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from domain.availability.model import (
    Busy,
    Calendar,
    DayException,
    ExceptionKind,
    WeeklyWindow,
    Window,
)


def _exception(row: dict[str, Any]) -> DayException:
    window = None
    if row["start_time"] is not None:
        window = Window(
            start=row["start_time"],
            end=row["end_time"],
            slot_minutes=row["slot_minutes"] or 0,
            buffer_minutes=row["buffer_minutes"] or 0,
        )
    return DayException(
        id=row["id"], day=row["day"], kind=ExceptionKind(row["kind"]), window=window
    )


def _weekly(row: dict[str, Any]) -> WeeklyWindow:
    return WeeklyWindow(
        weekday=row["weekday"],
        start=row["start_time"],
        end=row["end_time"],
        slot_minutes=row["slot_minutes"],
        buffer_minutes=row["buffer_minutes"],
    )


class PgCalendarRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, doctor_id: uuid.UUID) -> Calendar | None:
        found = await self._read([doctor_id], active_only=False)
        return found[0] if found else None

    async def many(self, doctor_ids: Sequence[uuid.UUID]) -> list[Calendar]:
        """The calendars of those of ``doctor_ids`` who are active doctors."""
        return await self._read(doctor_ids, active_only=True)

    async def _read(self, doctor_ids: Sequence[uuid.UUID], *, active_only: bool) -> list[Calendar]:
        ids = list(doctor_ids)
        cursor = await self._conn.execute(
            """
            SELECT c.doctor_id, c.time_zone
            FROM doctor_calendars c JOIN users u ON u.id = c.doctor_id
            WHERE c.doctor_id = ANY(%s) AND (NOT %s OR (u.role = 'doctor' AND u.status = 'active'))
            """,
            (ids, active_only),
        )
        zones = {row["doctor_id"]: row["time_zone"] for row in await cursor.fetchall()}
        if not zones:
            return []
        found = list(zones)
        cursor = await self._conn.execute(
            "SELECT * FROM availability_windows WHERE doctor_id = ANY(%s)"
            " ORDER BY weekday, start_time",
            (found,),
        )
        weekly: dict[uuid.UUID, list[WeeklyWindow]] = {}
        for row in await cursor.fetchall():
            weekly.setdefault(row["doctor_id"], []).append(_weekly(row))
        cursor = await self._conn.execute(
            "SELECT * FROM availability_exceptions WHERE doctor_id = ANY(%s) ORDER BY day, id",
            (found,),
        )
        exceptions: dict[uuid.UUID, list[DayException]] = {}
        for row in await cursor.fetchall():
            exceptions.setdefault(row["doctor_id"], []).append(_exception(row))
        return [
            Calendar(
                doctor_id=doctor_id,
                time_zone=zone,
                weekly=tuple(weekly.get(doctor_id, ())),
                exceptions=tuple(exceptions.get(doctor_id, ())),
            )
            for doctor_id, zone in zones.items()
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
