"""The doctor directory: active doctor accounts with their professional profile."""

from __future__ import annotations

import uuid

from psycopg import AsyncConnection

from domain.patients.model import DoctorListing


class PgDoctorDirectory:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def is_listed(self, doctor_id: uuid.UUID) -> bool:
        cursor = await self._conn.execute(
            """
            SELECT EXISTS (SELECT 1 FROM users
                           WHERE id = %s AND role = 'doctor' AND status = 'active') AS yes
            """,
            (doctor_id,),
        )
        return bool((await cursor.fetchone())["yes"])

    async def page(self, *, limit: int, offset: int) -> list[DoctorListing]:
        cursor = await self._conn.execute(
            """
            SELECT u.id, u.name, d.specialty, d.consultation_fee_cents, d.currency
            FROM users u LEFT JOIN doctor_profiles d ON d.user_id = u.id
            WHERE u.role = 'doctor' AND u.status = 'active'
            ORDER BY u.name, u.id
            LIMIT %s OFFSET %s
            """,
            (limit, offset),
        )
        return [
            DoctorListing(
                id=row["id"],
                name=row["name"],
                specialty=row["specialty"],
                consultation_fee_cents=row["consultation_fee_cents"],
                currency=row["currency"],
            )
            for row in await cursor.fetchall()
        ]
