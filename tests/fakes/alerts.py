"""Health alerts in memory, with the store's one rule: one alert per patient and rule that is
not resolved, which a new breach updates (more occurrences, a severity that only rises, an
escalation re-opening it). Overrides, read marks and the care team (from the fake connections)
beside them."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from domain.adapters.cursors import decode_position, encode_position
from domain.alerts.model import (
    LIVE_STATUSES,
    Alert,
    AlertFilter,
    AlertPage,
    AlertStatus,
    AlertView,
    Breach,
    Upserted,
)
from domain.alerts.rules import Band
from domain.clock import Clock
from domain.connections.model import Connection, ConnectionStatus
from tests.fakes.database import FakeDatabase


def _doctors_of(connections: dict[uuid.UUID, Connection], patient_id: uuid.UUID) -> set[uuid.UUID]:
    return {
        row.doctor_id
        for row in connections.values()
        if row.patient_id == patient_id and row.status is ConnectionStatus.ACTIVE
    }


class FakeAlertRepository:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._alerts: dict[uuid.UUID, Alert] = database.table("alerts")
        self._reads: dict[tuple[uuid.UUID, uuid.UUID], datetime] = database.table("alert_reads")
        self._connections: dict[uuid.UUID, Connection] = database.table("connections")
        self._clock = clock

    def _open(self, patient_id: uuid.UUID, rule: str) -> Alert | None:
        return next(
            (
                a
                for a in self._alerts.values()
                if (a.patient_id, a.rule) == (patient_id, rule) and a.status in LIVE_STATUSES
            ),
            None,
        )

    async def upsert(self, breach: Breach) -> Upserted:
        now = self._clock.now()
        current = self._open(breach.patient_id, breach.rule)
        if current is None:
            alert = Alert(
                id=uuid.uuid4(),
                patient_id=breach.patient_id,
                rule=breach.rule,
                severity=breach.severity,
                summary_code=breach.summary_code,
                status=AlertStatus.OPEN,
                occurrences=1,
                first_at=breach.at,
                last_at=breach.at,
                escalated_from=None,
                created_at=now,
                updated_at=now,
            )
            self._alerts[alert.id] = alert
            return Upserted(alert, created=True, escalated=False)
        rises = breach.severity.rank > current.severity.rank
        alert = msgspec.structs.replace(
            current,
            occurrences=current.occurrences + 1,
            first_at=min(current.first_at, breach.at),
            last_at=max(current.last_at, breach.at),
            escalated_from=current.severity if rises else None,
            severity=breach.severity if rises else current.severity,
            summary_code=breach.summary_code if rises else current.summary_code,
            status=AlertStatus.OPEN if rises else current.status,
            updated_at=now,
        )
        self._alerts[alert.id] = alert
        return Upserted(alert, created=False, escalated=rises)

    async def get(self, alert_id: uuid.UUID, *, lock: bool = False) -> Alert | None:
        return self._alerts.get(alert_id)

    async def move(
        self,
        alert_id: uuid.UUID,
        sources: frozenset[AlertStatus],
        target: AlertStatus,
        by: uuid.UUID,
    ) -> Alert | None:
        alert = self._alerts.get(alert_id)
        if alert is None or alert.status not in sources:
            return None
        now = self._clock.now()
        stamps = (
            {"acknowledged_by": by, "acknowledged_at": now}
            if target is AlertStatus.ACKNOWLEDGED
            else {"resolved_by": by, "resolved_at": now}
        )
        moved = msgspec.structs.replace(alert, status=target, updated_at=now, **stamps)
        self._alerts[alert_id] = moved
        return moved

    async def mark_read(self, alert_id: uuid.UUID, user_id: uuid.UUID) -> datetime:
        return self._reads.setdefault((alert_id, user_id), self._clock.now())

    async def read_at(self, alert_id: uuid.UUID, user_id: uuid.UUID) -> datetime | None:
        return self._reads.get((alert_id, user_id))

    async def page(self, query: AlertFilter) -> AlertPage:
        after = decode_position(query.cursor) if query.cursor else None
        found = sorted(
            (
                a
                for a in self._alerts.values()
                if a.status in query.statuses
                and (query.patient_id is None or a.patient_id == query.patient_id)
                and (
                    query.doctor_id is None
                    or query.doctor_id in _doctors_of(self._connections, a.patient_id)
                )
                and (after is None or (a.created_at, a.id) < after)
            ),
            key=lambda a: (a.created_at, a.id),
            reverse=True,
        )
        page = found[: query.limit]
        more = len(found) > query.limit
        return AlertPage(
            items=[AlertView(alert=a, read_at=self._reads.get((a.id, query.reader))) for a in page],
            next_cursor=encode_position(page[-1].created_at, page[-1].id) if more else None,
        )


class FakeRuleOverrides:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._rows: dict[tuple[uuid.UUID, str], tuple[Band, ...]] = database.table(
            "alert_rule_overrides"
        )

    async def of(self, patient_id: uuid.UUID) -> dict[str, tuple[Band, ...]]:
        return {
            rule: bands for (patient, rule), bands in self._rows.items() if patient == patient_id
        }

    async def put(
        self, patient_id: uuid.UUID, rule: str, bands: tuple[Band, ...], by: uuid.UUID
    ) -> None:
        self._rows[(patient_id, rule)] = bands

    async def remove(self, patient_id: uuid.UUID, rule: str) -> bool:
        return self._rows.pop((patient_id, rule), None) is not None


class FakeCareTeam:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._connections: dict[uuid.UUID, Connection] = database.table("connections")

    async def connected_doctors(self, patient_id: uuid.UUID) -> list[uuid.UUID]:
        return sorted(_doctors_of(self._connections, patient_id))
