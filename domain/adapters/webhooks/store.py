"""Webhook deliveries in PostgreSQL, inside the caller's transaction; bodies sealed.

``UNIQUE (provider, webhook_id)`` is the last word on replays: a second
delivery of one id finds the first and stores nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql

from domain.adapters.keyset import cursor_after, newest_first_filter
from domain.phi.columns import WEBHOOK_BODY
from domain.sealing import Cipher, Sealed
from domain.webhooks.model import Delivery, DeliveryFilter, DeliveryPage, DeliveryStatus

_COLUMNS = sql.SQL(
    "id, provider, webhook_id, event_type, status, outcome, received_at, processed_at, replays,"
    " received_at AS created_at"
)


def _delivery(row: dict[str, Any]) -> Delivery:
    return Delivery(
        id=row["id"],
        provider=row["provider"],
        webhook_id=row["webhook_id"],
        event_type=row["event_type"],
        status=DeliveryStatus(row["status"]),
        outcome=row["outcome"],
        received_at=row["received_at"],
        processed_at=row["processed_at"],
        replays=row["replays"],
    )


class PgDeliveryRepository:
    def __init__(self, conn: AsyncConnection, cipher: Cipher) -> None:
        self._conn = conn
        self._cipher = cipher

    async def _one(self, query: sql.Composable, params: Any) -> Delivery | None:
        cursor = await self._conn.execute(query, params)
        row = await cursor.fetchone()
        return _delivery(row) if row else None

    async def add(
        self, provider: str, webhook_id: str, event_type: str | None, body: bytes, now: datetime
    ) -> tuple[Delivery, bool]:
        delivery_id = uuid.uuid4()
        sealed = self._cipher.seal(body, WEBHOOK_BODY.context(delivery_id))
        stored = await self._one(
            sql.SQL(
                """
                INSERT INTO webhook_deliveries (id, provider, webhook_id, event_type, status,
                                                body_sealed, body_key_id, received_at)
                VALUES (%(id)s, %(provider)s, %(webhook_id)s, %(type)s, 'received',
                        %(blob)s, %(key)s, %(now)s)
                ON CONFLICT (provider, webhook_id) DO NOTHING
                RETURNING {columns}
                """
            ).format(columns=_COLUMNS),
            {
                "id": delivery_id,
                "provider": provider,
                "webhook_id": webhook_id,
                "type": event_type,
                "blob": sealed.blob,
                "key": sealed.key_id,
                "now": now,
            },
        )
        if stored is not None:
            return stored, True
        earlier = await self._one(
            sql.SQL(
                "SELECT {columns} FROM webhook_deliveries WHERE provider = %s AND webhook_id = %s"
            ).format(columns=_COLUMNS),
            (provider, webhook_id),
        )
        assert earlier is not None  # the conflict was with it, and deliveries are never deleted
        return earlier, False

    async def get(self, delivery_id: uuid.UUID, *, lock: bool = False) -> Delivery | None:
        query = sql.SQL("SELECT {columns} FROM webhook_deliveries WHERE id = %s").format(
            columns=_COLUMNS
        )
        if lock:
            query = sql.Composed([query, sql.SQL(" FOR UPDATE")])
        return await self._one(query, (delivery_id,))

    async def body(self, delivery_id: uuid.UUID) -> bytes:
        cursor = await self._conn.execute(
            "SELECT body_sealed, body_key_id FROM webhook_deliveries WHERE id = %s",
            (delivery_id,),
        )
        row = await cursor.fetchone()
        sealed = Sealed(key_id=row["body_key_id"], blob=bytes(row["body_sealed"]))
        return self._cipher.open(sealed, WEBHOOK_BODY.context(delivery_id))

    async def mark(
        self,
        delivery_id: uuid.UUID,
        status: DeliveryStatus,
        outcome: str | None,
        now: datetime,
        *,
        replayed: bool = False,
    ) -> Delivery:
        marked = await self._one(
            sql.SQL(
                """
                UPDATE webhook_deliveries
                SET status = %(status)s, outcome = %(outcome)s,
                    processed_at = CASE WHEN %(status)s = 'received' THEN processed_at
                                        ELSE %(now)s END,
                    replays = replays + %(replayed)s
                WHERE id = %(id)s
                RETURNING {columns}
                """
            ).format(columns=_COLUMNS),
            {
                "id": delivery_id,
                "status": status.value,
                "outcome": outcome,
                "now": now,
                "replayed": int(replayed),
            },
        )
        assert marked is not None  # callers mark a delivery they have just read
        return marked

    async def page(self, query: DeliveryFilter) -> DeliveryPage:
        params: dict[str, Any] = {"limit": query.limit + 1}
        clauses: list[sql.Composable] = []
        if query.provider is not None:
            clauses.append(sql.SQL("d.provider = %(provider)s"))
            params["provider"] = query.provider
        if query.status is not None:
            clauses.append(sql.SQL("d.status = %(status)s"))
            params["status"] = query.status.value
        clauses += newest_first_filter(query.cursor, "d", params)
        where = sql.SQL(" AND ").join(clauses) if clauses else sql.SQL("TRUE")
        cursor = await self._conn.execute(
            sql.SQL(
                """
                SELECT * FROM (SELECT {columns} FROM webhook_deliveries) d WHERE {where}
                ORDER BY d.created_at DESC, d.id DESC LIMIT %(limit)s
                """
            ).format(columns=_COLUMNS, where=where),
            params,
        )
        found = [_delivery(row) for row in await cursor.fetchall()]
        items = found[: query.limit]
        more = len(found) > query.limit
        return DeliveryPage(
            items=items,
            next_cursor=cursor_after(_Keyed(items[-1])) if more else None,
        )


class _Keyed:
    """A delivery as the newest-first cursor sees it: received_at is its created_at."""

    def __init__(self, delivery: Delivery) -> None:
        self.created_at = delivery.received_at
        self.id = delivery.id
