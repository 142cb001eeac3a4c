"""Plans and subscriptions in PostgreSQL, inside the caller's transaction.

The partial unique index ``subscriptions_one_live`` is the last word on "one live
subscription per user".
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from domain.subscriptions.model import REMIND_BEFORE, Entitlement, Plan, Subscription

_entitlements = msgspec.json.Decoder(dict[Entitlement, int])


def _plan(row: dict[str, Any]) -> Plan:
    return Plan(
        code=row["code"],
        name=row["name"],
        period_days=row["period_days"],
        entitlements=msgspec.convert(row["entitlements"], dict[Entitlement, int]),
    )


def _subscription(row: dict[str, Any]) -> Subscription:
    return msgspec.convert(row, Subscription, from_attributes=False)


class PgPlanRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, code: str) -> Plan | None:
        cursor = await self._conn.execute("SELECT * FROM plans WHERE code = %s", (code,))
        row = await cursor.fetchone()
        return _plan(row) if row else None

    async def all(self) -> list[Plan]:
        cursor = await self._conn.execute("SELECT * FROM plans ORDER BY code")
        return [_plan(row) for row in await cursor.fetchall()]

    async def set(self, plan: Plan) -> None:
        await self._conn.execute(
            """
            INSERT INTO plans (code, name, period_days, entitlements) VALUES (%s, %s, %s, %s)
            ON CONFLICT (code) DO UPDATE SET name = excluded.name,
                period_days = excluded.period_days, entitlements = excluded.entitlements
            """,
            (plan.code, plan.name, plan.period_days, Jsonb(msgspec.to_builtins(plan.entitlements))),
        )


_COLUMNS = (
    "id, user_id, plan_code, status, period_start, period_end, cancel_at_period_end,"
    " next_plan_code, reminded_for, created_at, updated_at"
)


class PgSubscriptionRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def live_of(self, user_id: uuid.UUID, *, lock: bool = False) -> Subscription | None:
        cursor = await self._conn.execute(
            f"SELECT {_COLUMNS} FROM subscriptions"
            " WHERE user_id = %s AND status IN ('active', 'grace')"
            + (" FOR UPDATE" if lock else ""),
            (user_id,),
        )
        row = await cursor.fetchone()
        return _subscription(row) if row else None

    async def add(self, subscription: Subscription) -> None:
        values = msgspec.to_builtins(subscription, builtin_types=(datetime, uuid.UUID))
        await self._conn.execute(
            f"INSERT INTO subscriptions ({_COLUMNS}) VALUES ("
            + ", ".join(f"%({name})s" for name in _COLUMNS.replace(" ", "").split(","))
            + ")",
            values,
        )

    async def save(self, subscription: Subscription) -> None:
        values = msgspec.to_builtins(subscription, builtin_types=(datetime, uuid.UUID))
        await self._conn.execute(
            """
            UPDATE subscriptions SET plan_code = %(plan_code)s, status = %(status)s,
                period_start = %(period_start)s, period_end = %(period_end)s,
                cancel_at_period_end = %(cancel_at_period_end)s,
                next_plan_code = %(next_plan_code)s, reminded_for = %(reminded_for)s,
                updated_at = %(updated_at)s
            WHERE id = %(id)s
            """,
            values,
        )

    async def needing_upkeep(self, now: datetime, limit: int) -> list[Subscription]:
        cursor = await self._conn.execute(
            f"""
            SELECT {_COLUMNS} FROM subscriptions
            WHERE status IN ('active', 'grace') AND period_end <= %(horizon)s
            ORDER BY period_end LIMIT %(limit)s FOR UPDATE SKIP LOCKED
            """,
            {"horizon": now + REMIND_BEFORE, "limit": limit},
        )
        return [_subscription(row) for row in await cursor.fetchall()]
