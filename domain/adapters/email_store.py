"""E-mail rows: the address and template data live here, never in a job payload."""

from __future__ import annotations

import uuid

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from domain.clock import Clock
from domain.ports import EmailMessage


class PgEmailRepository:
    def __init__(self, conn: AsyncConnection, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock

    async def add(self, message: EmailMessage) -> None:
        await self._conn.execute(
            """
            INSERT INTO email_messages
                (id, job_id, to_address, template, data, message_id, created_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s)
            """,
            (
                message.id,
                message.job_id,
                message.to_address,
                message.template,
                Jsonb(message.data),
                message.message_id,
                self._clock.now(),
            ),
        )

    async def get(self, email_id: uuid.UUID) -> EmailMessage | None:
        cursor = await self._conn.execute("SELECT * FROM email_messages WHERE id = %s", (email_id,))
        row = await cursor.fetchone()
        return EmailMessage(**row) if row else None
