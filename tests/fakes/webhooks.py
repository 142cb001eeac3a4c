"""Webhook deliveries in memory: the repository of a transaction (bodies kept as given)."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from domain.clock import Clock
from domain.webhooks.model import Delivery, DeliveryFilter, DeliveryPage, DeliveryStatus
from tests.fakes.database import FakeDatabase


class FakeDeliveryRepository:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._rows: dict[uuid.UUID, Delivery] = database.table("deliveries")
        self._bodies: dict[uuid.UUID, bytes] = database.table("delivery_bodies")

    async def add(
        self, provider: str, webhook_id: str, event_type: str | None, body: bytes, now: datetime
    ) -> tuple[Delivery, bool]:
        for row in self._rows.values():
            if (row.provider, row.webhook_id) == (provider, webhook_id):
                return row, False
        delivery = Delivery(
            id=uuid.uuid4(),
            provider=provider,
            webhook_id=webhook_id,
            event_type=event_type,
            status=DeliveryStatus.RECEIVED,
            outcome=None,
            received_at=now,
            processed_at=None,
        )
        self._rows[delivery.id] = delivery
        self._bodies[delivery.id] = body
        return delivery, True

    async def get(self, delivery_id: uuid.UUID, *, lock: bool = False) -> Delivery | None:
        return self._rows.get(delivery_id)

    async def body(self, delivery_id: uuid.UUID) -> bytes:
        return self._bodies[delivery_id]

    async def mark(
        self,
        delivery_id: uuid.UUID,
        status: DeliveryStatus,
        outcome: str | None,
        now: datetime,
        *,
        replayed: bool = False,
    ) -> Delivery:
        row = self._rows[delivery_id]
        marked = msgspec.structs.replace(
            row,
            status=status,
            outcome=outcome,
            processed_at=row.processed_at if status is DeliveryStatus.RECEIVED else now,
            replays=row.replays + int(replayed),
        )
        self._rows[delivery_id] = marked
        return marked

    async def page(self, query: DeliveryFilter) -> DeliveryPage:
        found = [
            row
            for row in sorted(self._rows.values(), key=lambda r: r.received_at, reverse=True)
            if query.provider in (None, row.provider) and query.status in (None, row.status)
        ]
        return DeliveryPage(items=found[: query.limit], next_cursor=None)
