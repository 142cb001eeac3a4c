"""Where alerts and per-patient rule overrides are kept, and what raising one needs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from domain.accounts.model import User
from domain.alerts.model import Alert, AlertFilter, AlertPage, AlertStatus, Breach, Upserted
from domain.alerts.rules import Band
from domain.auditing import AuditLog
from domain.connections.ports import ConnectionRepository
from domain.jobs.ports import JobRepository
from domain.notifications.ports import EmailRepository, NoticeRepository
from domain.patients.ports import PatientRepository


class AlertRepository(Protocol):
    """Health alerts inside one transaction."""

    async def upsert(self, breach: Breach) -> Upserted:
        """Open an alert for the breach's patient and rule, or update the one still open (one
        more occurrence, the latest time, the higher severity) - atomically, so breaches racing
        each other end in one alert."""
        ...

    async def get(self, alert_id: uuid.UUID, *, lock: bool = False) -> Alert | None: ...

    async def move(
        self,
        alert_id: uuid.UUID,
        sources: frozenset[AlertStatus],
        target: AlertStatus,
        by: uuid.UUID,
    ) -> Alert | None:
        """The alert in ``target`` if it was in one of ``sources``; None otherwise."""
        ...

    async def mark_read(self, alert_id: uuid.UUID, user_id: uuid.UUID) -> datetime:
        """When ``user_id`` first read the alert (now, or an earlier read)."""
        ...

    async def read_at(self, alert_id: uuid.UUID, user_id: uuid.UUID) -> datetime | None: ...

    async def page(self, query: AlertFilter) -> AlertPage: ...


class RuleOverrides(Protocol):
    """A patient's own bands for some rules, set by a connected doctor."""

    async def of(self, patient_id: uuid.UUID) -> dict[str, tuple[Band, ...]]: ...

    async def put(
        self, patient_id: uuid.UUID, rule: str, bands: tuple[Band, ...], by: uuid.UUID
    ) -> None: ...

    async def remove(self, patient_id: uuid.UUID, rule: str) -> bool: ...


class CareTeam(Protocol):
    async def connected_doctors(self, patient_id: uuid.UUID) -> list[uuid.UUID]:
        """The doctors actively connected to the patient now."""
        ...


class AccountLookup(Protocol):
    """The one thing alerts ask of the accounts' store: whom to e-mail, by name."""

    async def get(self, user_id: uuid.UUID) -> User | None: ...


class UnitOfWork(Protocol):
    """What the alerts feature reads and writes in one database transaction."""

    alerts: AlertRepository
    alert_rules: RuleOverrides
    care_team: CareTeam
    users: AccountLookup
    notices: NoticeRepository
    emails: EmailRepository
    jobs: JobRepository
    audit: AuditLog
    patients: PatientRepository
    connections: ConnectionRepository
