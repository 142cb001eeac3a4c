"""In-app notices in PostgreSQL, inside the caller's transaction; their fields sealed.

Pages run newest first by ``seq``, and a page's cursor is the last ``seq`` it
showed: plain digits, like the event id a live client resumes from.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from psycopg import AsyncConnection

from domain.clock import Clock
from domain.notifications.inapp import Notice, NoticeKind, NoticePage, NoticeValue
from domain.phi.columns import NOTICE_DATA
from domain.sealing import Cipher, Sealed


class PgNoticeRepository:
    def __init__(self, conn: AsyncConnection, clock: Clock, cipher: Cipher) -> None:
        self._conn = conn
        self._clock = clock
        self._cipher = cipher

    def _notice(self, row: dict[str, Any]) -> Notice:
        sealed = Sealed(key_id=row["data_key_id"], blob=bytes(row["data_sealed"]))
        data = msgspec.json.decode(
            self._cipher.open(sealed, NOTICE_DATA.context(row["id"])),
            type=dict[str, NoticeValue],
        )
        return Notice(
            id=row["id"],
            seq=row["seq"],
            user_id=row["user_id"],
            kind=NoticeKind(row["kind"]),
            data=data,
            created_at=row["created_at"],
            read_at=row["read_at"],
        )

    async def _rows(self, query: str, params: dict[str, Any]) -> list[Notice]:
        cursor = await self._conn.execute(query, params)
        return [self._notice(row) for row in await cursor.fetchall()]

    async def add(
        self, user_id: uuid.UUID, kind: NoticeKind, data: dict[str, NoticeValue]
    ) -> Notice:
        notice_id = uuid.uuid4()
        sealed = self._cipher.seal(msgspec.json.encode(data), NOTICE_DATA.context(notice_id))
        [notice] = await self._rows(
            """
            INSERT INTO notices (id, user_id, kind, data_sealed, data_key_id, created_at)
            VALUES (%(id)s, %(user)s, %(kind)s, %(blob)s, %(key)s, %(now)s)
            RETURNING *
            """,
            {
                "id": notice_id,
                "user": user_id,
                "kind": kind.value,
                "blob": sealed.blob,
                "key": sealed.key_id,
                "now": self._clock.now(),
            },
        )
        return notice

    async def page(
        self, user_id: uuid.UUID, *, unread_only: bool, limit: int, before_seq: int | None
    ) -> NoticePage:
        notices = await self._rows(
            """
            SELECT * FROM notices
            WHERE user_id = %(user)s
                  AND (NOT %(unread)s OR read_at IS NULL)
                  AND (%(before)s::bigint IS NULL OR seq < %(before)s)
            ORDER BY seq DESC LIMIT %(limit)s
            """,
            {"user": user_id, "unread": unread_only, "before": before_seq, "limit": limit + 1},
        )
        more = len(notices) > limit
        notices = notices[:limit]
        return NoticePage(notices=notices, next_cursor=str(notices[-1].seq) if more else None)

    async def after(self, user_id: uuid.UUID, seq: int, limit: int) -> list[Notice]:
        return await self._rows(
            """
            SELECT * FROM notices WHERE user_id = %(user)s AND seq > %(seq)s
            ORDER BY seq LIMIT %(limit)s
            """,
            {"user": user_id, "seq": seq, "limit": limit},
        )

    async def unread(self, user_id: uuid.UUID) -> int:
        cursor = await self._conn.execute(
            "SELECT count(*) AS n FROM notices WHERE user_id = %s AND read_at IS NULL",
            (user_id,),
        )
        row = await cursor.fetchone()
        return int(row["n"]) if row else 0

    async def latest_seq(self, user_id: uuid.UUID) -> int:
        cursor = await self._conn.execute(
            "SELECT coalesce(max(seq), 0) AS seq FROM notices WHERE user_id = %s", (user_id,)
        )
        row = await cursor.fetchone()
        return int(row["seq"]) if row else 0

    async def mark_read(
        self, user_id: uuid.UUID, notice_id: uuid.UUID, at: datetime
    ) -> Notice | None:
        found = await self._rows(
            """
            UPDATE notices SET read_at = coalesce(read_at, %(at)s)
            WHERE id = %(id)s AND user_id = %(user)s
            RETURNING *
            """,
            {"id": notice_id, "user": user_id, "at": at},
        )
        return found[0] if found else None

    async def mark_all_read(self, user_id: uuid.UUID, at: datetime) -> int:
        cursor = await self._conn.execute(
            "UPDATE notices SET read_at = %s WHERE user_id = %s AND read_at IS NULL",
            (at, user_id),
        )
        return cursor.rowcount

    async def preferences(self, user_id: uuid.UUID) -> dict[NoticeKind, bool]:
        cursor = await self._conn.execute(
            "SELECT kind, email FROM notice_preferences WHERE user_id = %s", (user_id,)
        )
        found = {}
        for row in await cursor.fetchall():
            try:
                found[NoticeKind(row["kind"])] = row["email"]
            except ValueError:  # a kind this release no longer has
                continue
        return found

    async def set_preferences(self, user_id: uuid.UUID, choices: dict[NoticeKind, bool]) -> None:
        for kind, email in choices.items():
            await self._conn.execute(
                """
                INSERT INTO notice_preferences (user_id, kind, email) VALUES (%s, %s, %s)
                ON CONFLICT (user_id, kind) DO UPDATE SET email = excluded.email
                """,
                (user_id, kind.value, email),
            )
