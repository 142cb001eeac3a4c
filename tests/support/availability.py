"""Calendars straight into the store, for tests that need one without going through the API."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time

from domain.adapters.bootstrap import Services
from domain.availability.model import DayException, ExceptionKind, WeeklyWindow

WORKING_WEEK = tuple(
    WeeklyWindow(weekday=day, start=time(9), end=time(17), slot_minutes=30) for day in range(1, 8)
)


async def add_calendar(
    services: Services,
    doctor_id: uuid.UUID,
    time_zone: str = "UTC",
    weekly: tuple[WeeklyWindow, ...] = WORKING_WEEK,
) -> None:
    async with services.uow() as uow:
        await uow.calendars.set_week(doctor_id, time_zone, weekly, datetime.now(UTC))


async def add_day_off(services: Services, doctor_id: uuid.UUID, day: date) -> uuid.UUID:
    await add_calendar(services, doctor_id)
    exception = DayException(id=uuid.uuid4(), day=day, kind=ExceptionKind.OFF)
    async with services.uow() as uow:
        await uow.calendars.add_exception(doctor_id, exception)
    return exception.id
