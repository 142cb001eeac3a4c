"""Users and their profiles in PostgreSQL, on the caller's transaction.

Most sealed columns are written and read as ``Sealed`` (key id + blob): this
store never sees a phone number or a birth date in clear. The name and the
e-mail address are the exception: a ``User`` holds them whole, and this store
seals and opens them through ``UserIdentity`` (domain/adapters/accounts/identity.py),
which also gives the address's keyed lookup that sign-in and uniqueness use.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, errors

from domain.accounts.model import AccountStatus, DoctorProfile, PatientProfile, User
from domain.accounts.ports import SealingBatch
from domain.adapters.accounts.identity import UserIdentity
from domain.identity import Role
from domain.phi.columns import (
    PATIENT_DATE_OF_BIRTH,
    USER_EMAIL,
    USER_NAME,
    USER_PHONE,
    USER_TOTP_SECRET,
)
from domain.sealing import Sealed, SealedColumn


def _sealed(row: dict[str, Any], column: SealedColumn) -> Sealed | None:
    blob = row[column.sealed_column]
    return Sealed(key_id=row[column.key_id_column], blob=bytes(blob)) if blob is not None else None


def _parts(sealed: Sealed | None) -> tuple[str | None, bytes | None]:
    return (sealed.key_id, sealed.blob) if sealed is not None else (None, None)


class PgUserRepository:
    def __init__(self, conn: AsyncConnection, identity: UserIdentity) -> None:
        self._conn = conn
        self._identity = identity

    def _user(self, row: dict[str, Any]) -> User:
        user_id = row["id"]
        return User(
            id=user_id,
            email=self._identity.read(row, USER_EMAIL, user_id) or "",
            role=Role(row["role"]),
            status=AccountStatus(row["status"]),
            name=self._identity.read(row, USER_NAME, user_id) or "",
            password_hash=row["password_hash"],
            phone=_sealed(row, USER_PHONE),
            totp_secret=_sealed(row, USER_TOTP_SECRET),
            totp_enabled_at=row["totp_enabled_at"],
            totp_last_step=row["totp_last_step"],
            email_verified_at=row["email_verified_at"],
            last_login_at=row["last_login_at"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    async def _held_in_the_clear(self, email: str) -> bool:
        """An account from before revision 0008 that the sealing step has not reached holds
        ``email`` (its lookup is not computed yet, so the unique index cannot see it)."""
        cursor = await self._conn.execute(
            "SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower(%s)) AS yes", (email,)
        )
        return bool((await cursor.fetchone())["yes"])

    async def add(self, user: User) -> bool:
        if await self._held_in_the_clear(user.email):
            return False
        identity = await self._identity.sealed(self._conn, user.id, user.name, user.email)
        phone_key, phone_blob = _parts(user.phone)
        cursor = await self._conn.execute(
            """
            INSERT INTO users (id, role, status, password_hash, name_sealed, name_key_id,
                email_sealed, email_key_id, email_lookup, phone_key_id, phone_sealed,
                email_verified_at, created_at, updated_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (email_lookup) DO NOTHING
            RETURNING id
            """,
            (
                user.id,
                user.role.value,
                user.status.value,
                user.password_hash,
                identity.name.blob,
                identity.name.key_id,
                identity.email.blob,
                identity.email.key_id,
                identity.email_lookup,
                phone_key,
                phone_blob,
                user.email_verified_at,
                user.created_at,
                user.updated_at,
            ),
        )
        return await cursor.fetchone() is not None

    async def add_patient_profile(self, profile: PatientProfile) -> None:
        key_id, blob = _parts(profile.date_of_birth)
        await self._conn.execute(
            """
            INSERT INTO patient_profiles (user_id, date_of_birth_key_id, date_of_birth_sealed)
            VALUES (%s, %s, %s)
            """,
            (profile.user_id, key_id, blob),
        )

    async def add_doctor_profile(self, profile: DoctorProfile) -> None:
        await self._conn.execute(
            """
            INSERT INTO doctor_profiles
                (user_id, specialty, licence_number, consultation_fee_cents, currency)
            VALUES (%s, %s, %s, %s, %s)
            """,
            (
                profile.user_id,
                profile.specialty,
                profile.licence_number,
                profile.consultation_fee_cents,
                profile.currency,
            ),
        )

    async def replace_pending(self, user: User) -> bool:
        # Guarded on the status: a row verified meanwhile is waited for, then left alone.
        identity = await self._identity.sealed(self._conn, user.id, user.name, user.email)
        phone_key, phone_blob = _parts(user.phone)
        cursor = await self._conn.execute(
            """
            UPDATE users SET role = %s, password_hash = %s,
                name = NULL, name_sealed = %s, name_key_id = %s,
                email = NULL, email_sealed = %s, email_key_id = %s, email_lookup = %s,
                phone_key_id = %s, phone_sealed = %s,
                totp_secret_key_id = NULL, totp_secret_sealed = NULL, totp_enabled_at = NULL,
                totp_last_step = NULL, last_login_at = NULL, updated_at = %s
            WHERE id = %s AND status = 'pending'
            RETURNING id
            """,
            (
                user.role.value,
                user.password_hash,
                identity.name.blob,
                identity.name.key_id,
                identity.email.blob,
                identity.email.key_id,
                identity.email_lookup,
                phone_key,
                phone_blob,
                user.updated_at,
                user.id,
            ),
        )
        return await cursor.fetchone() is not None

    async def remove_profiles(self, user_id: uuid.UUID) -> None:
        await self._conn.execute("DELETE FROM patient_profiles WHERE user_id = %s", (user_id,))
        await self._conn.execute("DELETE FROM doctor_profiles WHERE user_id = %s", (user_id,))

    async def get(self, user_id: uuid.UUID) -> User | None:
        cursor = await self._conn.execute("SELECT * FROM users WHERE id = %s", (user_id,))
        row = await cursor.fetchone()
        return self._user(row) if row else None

    async def by_email(self, email: str) -> User | None:
        """The account of ``email`` (as sign-in normalises it), found by its keyed lookup; or,
        until the sealing step has reached it, an older account by its plaintext address."""
        lookup = await self._identity.lookup(self._conn, email, create=False)
        cursor = await self._conn.execute(
            "SELECT * FROM users WHERE email_lookup = %s OR lower(email) = lower(%s)",
            (lookup, email),
        )
        row = await cursor.fetchone()
        return self._user(row) if row else None

    async def patient_profile(self, user_id: uuid.UUID) -> PatientProfile | None:
        cursor = await self._conn.execute(
            "SELECT * FROM patient_profiles WHERE user_id = %s", (user_id,)
        )
        row = await cursor.fetchone()
        if row is None:
            return None
        return PatientProfile(
            user_id=row["user_id"], date_of_birth=_sealed(row, PATIENT_DATE_OF_BIRTH)
        )

    async def doctor_profile(self, user_id: uuid.UUID) -> DoctorProfile | None:
        cursor = await self._conn.execute(
            """
            SELECT user_id, specialty, licence_number, consultation_fee_cents, currency
            FROM doctor_profiles WHERE user_id = %s
            """,
            (user_id,),
        )
        row = await cursor.fetchone()
        return DoctorProfile(**row) if row else None

    async def set_status(
        self,
        user_id: uuid.UUID,
        expected: AccountStatus,
        status: AccountStatus,
        at: datetime,
        *,
        email_verified: bool = False,
    ) -> bool:
        cursor = await self._conn.execute(
            """
            UPDATE users
            SET status = %(status)s, updated_at = %(at)s,
                email_verified_at = CASE WHEN %(verified)s
                    THEN coalesce(email_verified_at, %(at)s) ELSE email_verified_at END
            WHERE id = %(id)s AND status = %(expected)s
            RETURNING id
            """,
            {
                "id": user_id,
                "expected": expected.value,
                "status": status.value,
                "at": at,
                "verified": email_verified,
            },
        )
        return await cursor.fetchone() is not None

    async def set_password(self, user_id: uuid.UUID, password_hash: str, at: datetime) -> None:
        await self._update(user_id, at, "password_hash = %s", password_hash)

    async def record_login(self, user_id: uuid.UUID, at: datetime) -> None:
        await self._conn.execute("UPDATE users SET last_login_at = %s WHERE id = %s", (at, user_id))

    async def set_name(self, user_id: uuid.UUID, name: str, at: datetime) -> None:
        sealed = self._identity.seal(USER_NAME, user_id, name)
        assignments = "name = NULL, name_sealed = %s, name_key_id = %s"
        await self._update(user_id, at, assignments, sealed.blob, sealed.key_id)

    async def set_phone(self, user_id: uuid.UUID, phone: Sealed | None, at: datetime) -> None:
        await self._update(user_id, at, "phone_key_id = %s, phone_sealed = %s", *_parts(phone))

    async def store_totp_secret(self, user_id: uuid.UUID, secret: Sealed, at: datetime) -> bool:
        cursor = await self._conn.execute(
            """
            UPDATE users SET totp_secret_key_id = %s, totp_secret_sealed = %s,
                totp_last_step = NULL, updated_at = %s
            WHERE id = %s AND totp_enabled_at IS NULL
            RETURNING id
            """,
            (secret.key_id, secret.blob, at, user_id),
        )
        return await cursor.fetchone() is not None

    async def enable_totp(self, user_id: uuid.UUID, step: int, at: datetime) -> bool:
        cursor = await self._conn.execute(
            """
            UPDATE users SET totp_enabled_at = %s, totp_last_step = %s, updated_at = %s
            WHERE id = %s AND totp_enabled_at IS NULL AND totp_secret_sealed IS NOT NULL
            RETURNING id
            """,
            (at, step, at, user_id),
        )
        return await cursor.fetchone() is not None

    async def clear_totp(self, user_id: uuid.UUID, at: datetime) -> None:
        await self._update(
            user_id,
            at,
            "totp_secret_key_id = NULL, totp_secret_sealed = NULL, totp_enabled_at = NULL, "
            "totp_last_step = NULL",
        )

    async def claim_totp_step(self, user_id: uuid.UUID, step: int) -> bool:
        # One guarded UPDATE: of two requests racing with the same code, one wins.
        cursor = await self._conn.execute(
            """
            UPDATE users SET totp_last_step = %s
            WHERE id = %s AND (totp_last_step IS NULL OR totp_last_step < %s)
            RETURNING id
            """,
            (step, user_id, step),
        )
        return await cursor.fetchone() is not None

    async def seal_plaintext(self, after: uuid.UUID | None, limit: int) -> SealingBatch:
        """Seal the names and addresses of up to ``limit`` rows (ids after ``after``) that
        still hold them in the clear, and clear the plaintext.

        Rows another transaction holds are passed over (``SKIP LOCKED``): a user's own
        update is never waited on, and a later run takes them. A row whose address
        another account already holds sealed (an account made, in the window between
        migration and sealing, by code from before 0008) cannot take its lookup: it is
        left as it is and counted.
        """
        resume = "AND id > %(after)s" if after is not None else ""
        cursor = await self._conn.execute(
            f"""
            SELECT id, name, email FROM users
            WHERE (name IS NOT NULL OR email IS NOT NULL) {resume}
            ORDER BY id
            LIMIT %(limit)s
            FOR UPDATE SKIP LOCKED
            """,  # type: ignore[arg-type]
            {"after": after, "limit": limit},
        )
        found = await cursor.fetchall()
        sealed = conflicts = 0
        for row in found:
            if await self._seal_row(row["id"], row["name"], row["email"]):
                sealed += 1
            else:
                conflicts += 1
        return SealingBatch(
            last_id=found[-1]["id"] if found else None,
            taken=len(found),
            sealed=sealed,
            conflicts=conflicts,
        )

    async def _seal_row(self, user_id: uuid.UUID, name: str | None, email: str | None) -> bool:
        assignments: list[str] = []
        values: list[Any] = []
        if name is not None:
            sealed_name = self._identity.seal(USER_NAME, user_id, name)
            assignments.append("name = NULL, name_sealed = %s, name_key_id = %s")
            values += [sealed_name.blob, sealed_name.key_id]
        if email is not None:
            sealed_email = self._identity.seal(USER_EMAIL, user_id, email)
            lookup = await self._identity.lookup(self._conn, email, create=True)
            assignments.append(
                "email = NULL, email_sealed = %s, email_key_id = %s, email_lookup = %s"
            )
            values += [sealed_email.blob, sealed_email.key_id, lookup]
        try:
            async with self._conn.transaction():  # a savepoint: a conflict spoils no other row
                await self._conn.execute(
                    f"UPDATE users SET {', '.join(assignments)} WHERE id = %s",  # type: ignore[arg-type]
                    (*values, user_id),
                )
        except errors.UniqueViolation:
            return False
        return True

    async def plaintext_left(self) -> int:
        cursor = await self._conn.execute(
            "SELECT count(*) AS n FROM users WHERE name IS NOT NULL OR email IS NOT NULL"
        )
        return int((await cursor.fetchone())["n"])

    async def _update(
        self, user_id: uuid.UUID, at: datetime, assignments: str, *values: Any
    ) -> None:
        # ``assignments`` is always a literal from this module, never caller data.
        await self._conn.execute(
            f"UPDATE users SET {assignments}, updated_at = %s WHERE id = %s",  # type: ignore[arg-type]
            (*values, at, user_id),
        )
