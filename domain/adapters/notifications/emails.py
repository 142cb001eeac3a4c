"""E-mail rows: the address and template data live here, never in a job payload.

Both are PHI, so both are sealed at rest (``domain.phi.EMAIL_TO_ADDRESS`` and
``EMAIL_DATA``, each bound to its row): an ``EmailMessage`` holds them in the
clear only in memory, between this repository and the code that renders it.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from psycopg import AsyncConnection

from domain.clock import Clock
from domain.notifications.ports import EmailMessage
from domain.phi.columns import EMAIL_DATA, EMAIL_TO_ADDRESS
from domain.sealing import Cipher, Sealed, SealedColumn


class PgEmailRepository:
    def __init__(self, conn: AsyncConnection, clock: Clock, cipher: Cipher) -> None:
        self._conn = conn
        self._clock = clock
        self._cipher = cipher

    def _seal(self, column: SealedColumn, row_id: uuid.UUID, plaintext: bytes) -> Sealed:
        return self._cipher.seal(plaintext, column.context(row_id))

    def _open(self, column: SealedColumn, row: dict[str, Any]) -> bytes:
        sealed = Sealed(key_id=row[column.key_id_column], blob=bytes(row[column.sealed_column]))
        return self._cipher.open(sealed, column.context(row["id"]))

    async def add(self, message: EmailMessage) -> None:
        to_address = self._seal(EMAIL_TO_ADDRESS, message.id, message.to_address.encode())
        data = self._seal(EMAIL_DATA, message.id, msgspec.json.encode(message.data))
        await self._conn.execute(
            """
            INSERT INTO email_messages
                (id, job_id, to_address_sealed, to_address_key_id, template,
                 data_sealed, data_key_id, message_id, created_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
            """,
            (
                message.id,
                message.job_id,
                to_address.blob,
                to_address.key_id,
                message.template,
                data.blob,
                data.key_id,
                message.message_id,
                self._clock.now(),
            ),
        )

    async def get(self, email_id: uuid.UUID) -> EmailMessage | None:
        """The e-mail, opened; raises SealBroken if its address or data will not open."""
        cursor = await self._conn.execute("SELECT * FROM email_messages WHERE id = %s", (email_id,))
        row = await cursor.fetchone()
        if row is None:
            return None
        return EmailMessage(
            id=row["id"],
            job_id=row["job_id"],
            to_address=self._open(EMAIL_TO_ADDRESS, row).decode(),
            template=row["template"],
            data=msgspec.json.decode(self._open(EMAIL_DATA, row), type=dict[str, Any]),
            message_id=row["message_id"],
            created_at=row["created_at"],
            handed_over_at=row["handed_over_at"],
            transport=row["transport"],
        )

    async def mark_handed_over(self, email_id: uuid.UUID, transport: str) -> None:
        await self._conn.execute(
            """
            UPDATE email_messages SET handed_over_at = %s, transport = %s
            WHERE id = %s AND handed_over_at IS NULL
            """,
            (self._clock.now(), transport, email_id),
        )
