"""The doctor directory: active doctor accounts with their professional profile.

Names are sealed at rest, so the database cannot order by them: a page is cut
from every active doctor, opened and sorted here by name (case-insensitively,
then by id). That reads all active doctors per request - a few thousand names
open in milliseconds - and keeps the directory's order by name, which a patient
looking for a doctor expects, and its pages stable.
"""

from __future__ import annotations

import uuid

from psycopg import AsyncConnection, sql

from domain.adapters.accounts.identity import UserIdentity, identity_columns
from domain.patients.model import DoctorListing
from domain.phi.columns import USER_NAME


class PgDoctorDirectory:
    def __init__(self, conn: AsyncConnection, identity: UserIdentity) -> None:
        self._conn = conn
        self._identity = identity

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
        query = sql.SQL(
            """
            SELECT u.id, {identity}, d.specialty, d.consultation_fee_cents, d.currency
            FROM users u LEFT JOIN doctor_profiles d ON d.user_id = u.id
            WHERE u.role = 'doctor' AND u.status = 'active'
            """
        ).format(identity=identity_columns("u", email=False))
        cursor = await self._conn.execute(query)
        doctors = [
            DoctorListing(
                id=row["id"],
                name=self._identity.read(row, USER_NAME, row["id"]) or "",
                specialty=row["specialty"],
                consultation_fee_cents=row["consultation_fee_cents"],
                currency=row["currency"],
            )
            for row in await cursor.fetchall()
        ]
        doctors.sort(key=lambda doctor: (doctor.name.casefold(), doctor.name, doctor.id))
        return doctors[offset : offset + limit]
