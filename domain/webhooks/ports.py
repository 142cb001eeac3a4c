"""Where deliveries are kept, and the check of a delivery's signature."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from domain.auditing import AuditLog
from domain.jobs.ports import JobRepository
from domain.webhooks.model import Delivery, DeliveryFilter, DeliveryPage, DeliveryStatus


class DeliveryRepository(Protocol):
    """Webhook deliveries inside one transaction; bodies sealed at rest."""

    async def add(
        self, provider: str, webhook_id: str, event_type: str | None, body: bytes, now: datetime
    ) -> tuple[Delivery, bool]:
        """Store a new delivery; returns it and True, or the provider's earlier delivery of
        this webhook id and False (then nothing is stored)."""
        ...

    async def get(self, delivery_id: uuid.UUID, *, lock: bool = False) -> Delivery | None: ...

    async def body(self, delivery_id: uuid.UUID) -> bytes: ...

    async def mark(
        self,
        delivery_id: uuid.UUID,
        status: DeliveryStatus,
        outcome: str | None,
        now: datetime,
        *,
        replayed: bool = False,
    ) -> Delivery: ...

    async def page(self, query: DeliveryFilter) -> DeliveryPage: ...


class SignatureVerifier(Protocol):
    """Checks a delivery's Standard Webhooks headers against the provider's active secrets.

    Raises Unauthorized for an unknown provider, a missing or bad signature, or a
    timestamp more than five minutes from now.
    """

    def verify(self, provider: str, body: bytes, headers: Mapping[str, str]) -> None: ...


class UnitOfWork(Protocol):
    """What the webhooks feature reads and writes in one database transaction."""

    deliveries: DeliveryRepository
    audit: AuditLog
    jobs: JobRepository
