"""Where readings are kept, and what recording one needs in its transaction."""

from __future__ import annotations

import uuid
from typing import Protocol

from domain.alerts.ports import UnitOfWork as AlertsUnitOfWork
from domain.vitals.model import Reading, ReadingFilter, ReadingPage


class ReadingRepository(Protocol):
    """A patient's vital-sign readings inside one transaction; the measurements sealed at rest
    (the store seals and opens them, bound to their row)."""

    async def add(self, reading: Reading) -> None: ...

    async def page(self, patient_id: uuid.UUID, query: ReadingFilter) -> ReadingPage:
        """Newest measured first (then by id); the cursor is the last row's (measured_at, id).
        Raises ValidationFailed (field ``cursor``) for a cursor that is not one of ours."""
        ...

    async def latest(self, patient_id: uuid.UUID) -> list[Reading]:
        """The newest reading of each type the patient has, in type order."""
        ...


class UnitOfWork(AlertsUnitOfWork, Protocol):
    """What the vitals feature reads and writes in one database transaction: its readings, and
    what raising the alerts a reading sets off needs."""

    readings: ReadingRepository
