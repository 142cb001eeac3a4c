"""Plans and subscriptions in memory, as the adapter keeps them: a user's live subscription is
the one that is active or in grace."""

from __future__ import annotations

import uuid
from datetime import datetime

from domain.clock import Clock
from domain.subscriptions.model import LIVE, REMIND_BEFORE, Plan, Subscription
from tests.fakes.database import FakeDatabase


class FakePlanRepository:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._rows: dict[str, Plan] = database.table("plans")

    async def get(self, code: str) -> Plan | None:
        return self._rows.get(code)

    async def all(self) -> list[Plan]:
        return sorted(self._rows.values(), key=lambda plan: plan.code)

    async def set(self, plan: Plan) -> None:
        self._rows[plan.code] = plan


class FakeSubscriptionRepository:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._rows: dict[uuid.UUID, Subscription] = database.table("subscriptions")

    async def live_of(self, user_id: uuid.UUID, *, lock: bool = False) -> Subscription | None:
        live = [s for s in self._rows.values() if s.user_id == user_id and s.status in LIVE]
        return live[0] if live else None

    async def add(self, subscription: Subscription) -> None:
        if subscription.status in LIVE and await self.live_of(subscription.user_id):
            raise AssertionError("a user has at most one live subscription")
        self._rows[subscription.id] = subscription

    async def save(self, subscription: Subscription) -> None:
        self._rows[subscription.id] = subscription

    async def needing_upkeep(self, now: datetime, limit: int) -> list[Subscription]:
        due = [
            s
            for s in self._rows.values()
            if s.status in LIVE and s.period_end - REMIND_BEFORE <= now
        ]
        return sorted(due, key=lambda s: s.period_end)[:limit]
