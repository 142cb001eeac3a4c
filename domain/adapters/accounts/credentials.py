"""Refresh tokens, one-time secrets and recovery codes in PostgreSQL, on the caller's transaction.

Only digests are stored. Every use is one guarded UPDATE naming the state it
expects (unused, unexpired, not revoked), so two requests racing with the
same secret cannot both win.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from psycopg import AsyncConnection

from domain.accounts.model import OneTimeSecret, RefreshToken, SecretPurpose


def _token(row: dict) -> RefreshToken:
    return RefreshToken(**{**row, "token_hash": bytes(row["token_hash"])})


def _secret(row: dict) -> OneTimeSecret:
    return OneTimeSecret(
        **{
            **row,
            "purpose": SecretPurpose(row["purpose"]),
            "secret_hash": bytes(row["secret_hash"]),
        }
    )


class PgRefreshTokenRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, token: RefreshToken) -> None:
        await self._conn.execute(
            """
            INSERT INTO refresh_tokens (id, user_id, family_id, parent_id, token_hash,
                created_at, expires_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s)
            """,
            (
                token.id,
                token.user_id,
                token.family_id,
                token.parent_id,
                token.token_hash,
                token.created_at,
                token.expires_at,
            ),
        )

    async def by_hash(self, token_hash: bytes) -> RefreshToken | None:
        cursor = await self._conn.execute(
            "SELECT * FROM refresh_tokens WHERE token_hash = %s", (token_hash,)
        )
        row = await cursor.fetchone()
        return _token(row) if row else None

    async def rotate(self, token_id: uuid.UUID, at: datetime) -> bool:
        cursor = await self._conn.execute(
            """
            UPDATE refresh_tokens SET rotated_at = %s
            WHERE id = %s AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > %s
            RETURNING id
            """,
            (at, token_id, at),
        )
        return await cursor.fetchone() is not None

    async def revoke_family(self, family_id: uuid.UUID, at: datetime, reason: str) -> int:
        cursor = await self._conn.execute(
            """
            UPDATE refresh_tokens SET revoked_at = %s, revoked_reason = %s
            WHERE family_id = %s AND revoked_at IS NULL
            """,
            (at, reason, family_id),
        )
        return cursor.rowcount

    async def revoke_all(self, user_id: uuid.UUID, at: datetime, reason: str) -> int:
        cursor = await self._conn.execute(
            """
            UPDATE refresh_tokens SET revoked_at = %s, revoked_reason = %s
            WHERE user_id = %s AND revoked_at IS NULL
            """,
            (at, reason, user_id),
        )
        return cursor.rowcount


class PgOneTimeSecretRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, secret: OneTimeSecret) -> None:
        await self._conn.execute(
            """
            INSERT INTO one_time_secrets (id, user_id, purpose, secret_hash, attempts,
                max_attempts, created_at, expires_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
            """,
            (
                secret.id,
                secret.user_id,
                secret.purpose.value,
                secret.secret_hash,
                secret.attempts,
                secret.max_attempts,
                secret.created_at,
                secret.expires_at,
            ),
        )

    async def by_hash(self, purpose: SecretPurpose, secret_hash: bytes) -> OneTimeSecret | None:
        cursor = await self._conn.execute(
            "SELECT * FROM one_time_secrets WHERE purpose = %s AND secret_hash = %s",
            (purpose.value, secret_hash),
        )
        row = await cursor.fetchone()
        return _secret(row) if row else None

    async def latest(self, user_id: uuid.UUID, purpose: SecretPurpose) -> OneTimeSecret | None:
        cursor = await self._conn.execute(
            """
            SELECT * FROM one_time_secrets WHERE user_id = %s AND purpose = %s
            ORDER BY created_at DESC, id LIMIT 1
            """,
            (user_id, purpose.value),
        )
        row = await cursor.fetchone()
        return _secret(row) if row else None

    async def consume(self, secret_id: uuid.UUID, at: datetime) -> bool:
        cursor = await self._conn.execute(
            """
            UPDATE one_time_secrets SET used_at = %s
            WHERE id = %s AND used_at IS NULL AND expires_at > %s AND attempts < max_attempts
            RETURNING id
            """,
            (at, secret_id, at),
        )
        return await cursor.fetchone() is not None

    async def count_failure(self, secret_id: uuid.UUID) -> None:
        await self._conn.execute(
            "UPDATE one_time_secrets SET attempts = attempts + 1 WHERE id = %s", (secret_id,)
        )

    async def retire(self, user_id: uuid.UUID, purpose: SecretPurpose, at: datetime) -> int:
        cursor = await self._conn.execute(
            """
            UPDATE one_time_secrets SET used_at = %s
            WHERE user_id = %s AND purpose = %s AND used_at IS NULL
            """,
            (at, user_id, purpose.value),
        )
        return cursor.rowcount

    async def retire_all(self, user_id: uuid.UUID, at: datetime) -> int:
        cursor = await self._conn.execute(
            "UPDATE one_time_secrets SET used_at = %s WHERE user_id = %s AND used_at IS NULL",
            (at, user_id),
        )
        return cursor.rowcount

    async def lock_unused(self, user_id: uuid.UUID) -> None:
        await self._conn.execute(
            "SELECT id FROM one_time_secrets WHERE user_id = %s AND used_at IS NULL FOR UPDATE",
            (user_id,),
        )


class PgRecoveryCodeRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def replace(self, user_id: uuid.UUID, code_hashes: Sequence[bytes], at: datetime) -> None:
        await self.clear(user_id)
        async with self._conn.cursor() as cursor:
            await cursor.executemany(
                """
                INSERT INTO recovery_codes (id, user_id, code_hash, created_at)
                VALUES (%s, %s, %s, %s)
                """,
                [(uuid.uuid4(), user_id, code_hash, at) for code_hash in code_hashes],
            )

    async def consume(self, user_id: uuid.UUID, code_hash: bytes, at: datetime) -> bool:
        cursor = await self._conn.execute(
            """
            UPDATE recovery_codes SET used_at = %s
            WHERE user_id = %s AND code_hash = %s AND used_at IS NULL
            RETURNING id
            """,
            (at, user_id, code_hash),
        )
        return await cursor.fetchone() is not None

    async def remaining(self, user_id: uuid.UUID) -> int:
        cursor = await self._conn.execute(
            "SELECT count(*) AS n FROM recovery_codes WHERE user_id = %s AND used_at IS NULL",
            (user_id,),
        )
        row = await cursor.fetchone()
        return row["n"] if row else 0

    async def clear(self, user_id: uuid.UUID) -> None:
        await self._conn.execute("DELETE FROM recovery_codes WHERE user_id = %s", (user_id,))
