"""Where doctors' calendars are kept, and what availability asks of bookings and doctors."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from domain.auditing import AuditLog
from domain.availability.model import Busy, Calendar, DayException, WeeklyWindow


class CalendarRepository(Protocol):
    """Doctors' calendars inside one transaction."""

    async def get(self, doctor_id: uuid.UUID) -> Calendar | None: ...

    async def many(
        self, doctor_ids: Sequence[uuid.UUID], days: tuple[date, date] | None = None
    ) -> list[Calendar]:
        """Active doctors' calendars; with ``days``, only the exceptions on those local days
        (first and last included): a search needs no others."""
        ...

    async def set_week(
        self, doctor_id: uuid.UUID, time_zone: str, weekly: Sequence[WeeklyWindow], now: datetime
    ) -> None: ...

    async def add_exception(self, doctor_id: uuid.UUID, exception: DayException) -> None: ...

    async def remove_exception(self, doctor_id: uuid.UUID, exception_id: uuid.UUID) -> bool:
        """False when the doctor has no such exception."""
        ...


class BusyTimes(Protocol):
    """The blocked ranges of held and confirmed consultations (the bookings' store)."""

    async def busy(
        self, doctor_ids: Sequence[uuid.UUID], start: datetime, until: datetime
    ) -> dict[uuid.UUID, list[Busy]]: ...


class DoctorFinder(Protocol):
    """Active doctors, as availability searches them."""

    async def is_listed(self, doctor_id: uuid.UUID) -> bool: ...

    async def with_specialty(self, specialty: str) -> list[uuid.UUID]: ...


class UnitOfWork(Protocol):
    calendars: CalendarRepository
    busy_times: BusyTimes
    doctor_finder: DoctorFinder
    audit: AuditLog
