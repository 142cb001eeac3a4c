"""Per-patient overrides of alert rules (the bands, as JSON), and a patient's care team."""

from __future__ import annotations

import uuid

import msgspec
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from domain.alerts.rules import Band
from domain.clock import Clock


class PgRuleOverrides:
    def __init__(self, conn: AsyncConnection, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock

    async def of(self, patient_id: uuid.UUID) -> dict[str, tuple[Band, ...]]:
        cursor = await self._conn.execute(
            "SELECT rule, bands FROM alert_rule_overrides WHERE patient_id = %s", (patient_id,)
        )
        return {
            row["rule"]: msgspec.convert(row["bands"], tuple[Band, ...])
            for row in await cursor.fetchall()
        }

    async def put(
        self, patient_id: uuid.UUID, rule: str, bands: tuple[Band, ...], by: uuid.UUID
    ) -> None:
        await self._conn.execute(
            """
            INSERT INTO alert_rule_overrides (patient_id, rule, bands, set_by, updated_at)
            VALUES (%(patient)s, %(rule)s, %(bands)s, %(by)s, %(now)s)
            ON CONFLICT (patient_id, rule) DO UPDATE
            SET bands = excluded.bands, set_by = excluded.set_by, updated_at = excluded.updated_at
            """,
            {
                "patient": patient_id,
                "rule": rule,
                "bands": Jsonb(msgspec.to_builtins(bands)),
                "by": by,
                "now": self._clock.now(),
            },
        )

    async def remove(self, patient_id: uuid.UUID, rule: str) -> bool:
        cursor = await self._conn.execute(
            "DELETE FROM alert_rule_overrides WHERE patient_id = %s AND rule = %s",
            (patient_id, rule),
        )
        return cursor.rowcount > 0


class PgCareTeam:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def connected_doctors(self, patient_id: uuid.UUID) -> list[uuid.UUID]:
        cursor = await self._conn.execute(
            """
            SELECT doctor_id FROM connections
            WHERE patient_id = %s AND status = 'active'
            ORDER BY doctor_id
            """,
            (patient_id,),
        )
        return [row["doctor_id"] for row in await cursor.fetchall()]
