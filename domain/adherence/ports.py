"""Where adherence is rolled up and read."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Protocol

import msgspec

from domain.adherence.model import Granularity, Tally
from domain.alerts.ports import UnitOfWork as AlertsUnitOfWork
from domain.patients.ports import UnitOfWork as PatientsUnitOfWork


class RollUp(msgspec.Struct, frozen=True):
    """One pass over changed days: the changes taken, the (patient, day) windows they name,
    and whose."""

    changes: int
    windows: int
    patients: frozenset[uuid.UUID]


class RiskSignal(msgspec.Struct, frozen=True):
    """What the alerts look at for one patient (counts, never a medicine)."""

    patient_id: uuid.UUID
    recent: Tally  # the last ``RECENT_DAYS`` local days
    missed_in_a_row: int  # the newest settled doses that were all missed


class AtRisk(msgspec.Struct, frozen=True):
    """One connected patient on a doctor's dashboard."""

    patient_id: uuid.UUID
    recent: Tally
    open_alerts: int
    top_severity: str | None
    last_alert_at: datetime | None  # the newest open alert's latest occurrence


class AtRiskPage(msgspec.Struct, frozen=True):
    items: list[AtRisk]
    next_cursor: str | None


class AdherenceStore(Protocol):
    async def roll_up(self, limit: int) -> RollUp:
        """Recompute up to ``limit`` changed (patient, day) windows from the doses, set-based,
        and forget them; concurrent passes take different windows."""
        ...

    async def rollup_needed(self) -> bool:
        """Changed days wait, and no roll-up job is queued or running."""
        ...

    async def tallies(
        self,
        patient_id: uuid.UUID,
        first: date,
        last: date,
        granularity: Granularity,
        prescription_id: uuid.UUID | None,
    ) -> dict[date, Tally]: ...

    async def risk_signals(
        self, patient_ids: frozenset[uuid.UUID], since: date
    ) -> list[RiskSignal]: ...

    async def at_risk(
        self, doctor_id: uuid.UUID, since: date, cursor: str | None, limit: int
    ) -> AtRiskPage:
        """The doctor's actively connected patients, riskiest first: lowest adherence since
        ``since`` (no dose due sorts last), then most open alerts, then id; one query, a page
        after ``cursor`` (domain/paging.py's RISK_CURSOR_PATTERN; ValidationFailed if not)."""
        ...


class UnitOfWork(AlertsUnitOfWork, PatientsUnitOfWork, Protocol):
    adherence: AdherenceStore
