"""Patients' own data in PostgreSQL: ``users`` (name, e-mail, phone) and ``patient_profiles``.

Sealed columns are read and written as ``Sealed`` values under the names
``domain.phi`` gives them, for the patient service to open; the name and the
e-mail address, which a ``PatientRecord`` holds whole, are opened through
``UserIdentity`` like everywhere else.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from psycopg import AsyncConnection, sql

from domain.adapters.accounts.identity import UserIdentity, identity_columns
from domain.patients.model import PatientRecord
from domain.phi.columns import (
    PATIENT_CLINICAL_NOTES,
    PATIENT_DATE_OF_BIRTH,
    USER_EMAIL,
    USER_NAME,
    USER_PHONE,
)
from domain.sealing import Sealed, SealedColumn


def sealed_from_row(row: dict[str, Any], column: SealedColumn) -> Sealed | None:
    blob = row[column.sealed_column]
    if blob is None:
        return None
    return Sealed(key_id=row[column.key_id_column], blob=bytes(blob))


def _columns(column: SealedColumn, alias: str) -> sql.Composable:
    return sql.SQL("{alias}.{sealed}, {alias}.{key_id}").format(
        alias=sql.Identifier(alias),
        sealed=sql.Identifier(column.sealed_column),
        key_id=sql.Identifier(column.key_id_column),
    )


def _values(sealed: Sealed | None) -> list[Any]:
    """The stored pair (blob, key id); both NULL to clear the value."""
    return [None, None] if sealed is None else [sealed.blob, sealed.key_id]


class PgPatientRepository:
    def __init__(self, conn: AsyncConnection, identity: UserIdentity) -> None:
        self._conn = conn
        self._identity = identity

    async def get(self, patient_id: uuid.UUID) -> PatientRecord | None:
        query = sql.SQL(
            """
            SELECT u.id, {identity}, {phone}, {born}
            FROM users u LEFT JOIN patient_profiles p ON p.user_id = u.id
            WHERE u.id = %s AND u.role = 'patient'
            """
        ).format(
            identity=identity_columns("u"),
            phone=_columns(USER_PHONE, "u"),
            born=_columns(PATIENT_DATE_OF_BIRTH, "p"),
        )
        cursor = await self._conn.execute(query, (patient_id,))
        row = await cursor.fetchone()
        if row is None:
            return None
        return PatientRecord(
            id=row["id"],
            name=self._identity.read(row, USER_NAME, row["id"]) or "",
            email=self._identity.read(row, USER_EMAIL, row["id"]) or "",
            phone=sealed_from_row(row, USER_PHONE),
            date_of_birth=sealed_from_row(row, PATIENT_DATE_OF_BIRTH),
        )

    async def exists(self, patient_id: uuid.UUID) -> bool:
        cursor = await self._conn.execute(
            """
            SELECT EXISTS (SELECT 1 FROM users
                           WHERE id = %s AND role = 'patient' AND status <> 'disabled') AS yes
            """,
            (patient_id,),
        )
        return bool((await cursor.fetchone())["yes"])

    async def _set_profile(
        self, patient_id: uuid.UUID, column: SealedColumn, sealed: Sealed | None
    ) -> None:
        """Upsert one sealed column of the profile: a patient may have no profile row yet."""
        query = sql.SQL(
            """
            INSERT INTO patient_profiles (user_id, {sealed}, {key_id}) VALUES (%s, %s, %s)
            ON CONFLICT (user_id) DO UPDATE
            SET {sealed} = EXCLUDED.{sealed}, {key_id} = EXCLUDED.{key_id}
            """
        ).format(
            sealed=sql.Identifier(column.sealed_column),
            key_id=sql.Identifier(column.key_id_column),
        )
        await self._conn.execute(query, [patient_id, *_values(sealed)])

    async def update_contact(
        self,
        patient_id: uuid.UUID,
        now: datetime,
        *,
        phone: Sealed | msgspec.UnsetType | None = msgspec.UNSET,
        date_of_birth: Sealed | msgspec.UnsetType | None = msgspec.UNSET,
    ) -> None:
        if not isinstance(phone, msgspec.UnsetType):
            query = sql.SQL("UPDATE users SET {} = %s, {} = %s, updated_at = %s WHERE id = %s")
            await self._conn.execute(
                query.format(
                    sql.Identifier(USER_PHONE.sealed_column),
                    sql.Identifier(USER_PHONE.key_id_column),
                ),
                [*_values(phone), now, patient_id],
            )
        if not isinstance(date_of_birth, msgspec.UnsetType):
            await self._set_profile(patient_id, PATIENT_DATE_OF_BIRTH, date_of_birth)

    async def clinical_notes(self, patient_id: uuid.UUID) -> Sealed | None:
        query = sql.SQL("SELECT {} FROM patient_profiles p WHERE p.user_id = %s").format(
            _columns(PATIENT_CLINICAL_NOTES, "p")
        )
        cursor = await self._conn.execute(query, (patient_id,))
        row = await cursor.fetchone()
        return sealed_from_row(row, PATIENT_CLINICAL_NOTES) if row else None

    async def set_clinical_notes(self, patient_id: uuid.UUID, notes: Sealed) -> None:
        await self._set_profile(patient_id, PATIENT_CLINICAL_NOTES, notes)
