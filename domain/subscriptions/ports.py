"""Where plans and subscriptions are kept (and what subscriptions use of payments)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from domain.auditing import AuditLog
from domain.jobs.ports import JobRepository
from domain.notifications.ports import EmailRepository, NoticeRepository
from domain.payments.ports import Payers, PaymentRepository, PriceList
from domain.subscriptions.model import Plan, Subscription


class PlanRepository(Protocol):
    async def get(self, code: str) -> Plan | None: ...

    async def all(self) -> list[Plan]: ...

    async def set(self, plan: Plan) -> None: ...


class SubscriptionRepository(Protocol):
    """Subscriptions inside one transaction; a user has at most one live (active or grace)."""

    async def live_of(self, user_id: uuid.UUID, *, lock: bool = False) -> Subscription | None: ...

    async def add(self, subscription: Subscription) -> None: ...

    async def save(self, subscription: Subscription) -> None: ...

    async def needing_upkeep(self, now: datetime, limit: int) -> list[Subscription]:
        """Live subscriptions within ``REMIND_BEFORE`` of their end, or past it."""
        ...


class UnitOfWork(Protocol):
    """What the subscriptions feature reads and writes in one database transaction."""

    plans: PlanRepository
    subscriptions: SubscriptionRepository
    prices: PriceList
    payments: PaymentRepository
    payers: Payers
    notices: NoticeRepository
    emails: EmailRepository
    audit: AuditLog
    jobs: JobRepository
