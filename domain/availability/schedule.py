"""A doctor keeps their own calendar: the weekly template (with its time zone) and exceptions.

Anyone signed in may read a doctor's calendar: it says when they work, nothing about patients.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from domain.auditing import AuditContext, AuditEntry
from domain.availability.model import (
    Calendar,
    DayException,
    ExceptionKind,
    WeeklyWindow,
    check_time_zone,
    check_week,
    check_window,
)
from domain.availability.ports import UnitOfWork
from domain.clock import Clock
from domain.errors import Forbidden, NotFound, ValidationFailed
from domain.policies import Access
from domain.transactions import UnitOfWorkFactory


def _entry(action: str, doctor_id: uuid.UUID, *fields: str) -> AuditEntry:
    return AuditEntry(
        action=action, resource_type="calendar", resource_id=str(doctor_id), changed_fields=fields
    )


async def _caller_as_doctor(uow: UnitOfWork, access: Access) -> uuid.UUID:
    access.authorize(())
    doctor_id = access.user_uuid
    if doctor_id is None or not await uow.doctor_finder.is_listed(doctor_id):
        raise Forbidden("this action needs an active doctor account")
    return doctor_id


async def set_week(
    access: Access,
    audit: AuditContext,
    time_zone: str,
    weekly: Sequence[WeeklyWindow],
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> Calendar:
    """Replace the caller's weekly template and time zone; exceptions stay."""
    checked = check_week(weekly)
    zone = check_time_zone(time_zone)
    async with uow_factory() as uow:
        doctor_id = await _caller_as_doctor(uow, access)
        await uow.calendars.set_week(doctor_id, zone, checked, clock.now())
        await uow.audit.record(audit, _entry("calendar.set_week", doctor_id, "weekly", "zone"))
        calendar = await uow.calendars.get(doctor_id)
    assert calendar is not None  # just written in this transaction
    return calendar


async def add_exception(
    access: Access,
    audit: AuditContext,
    exception: DayException,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> DayException:
    """A day off (whole, or a window of it) or extra hours, on one of the doctor's local days."""
    if exception.window is not None:
        check_window(exception.window, field="window")
    elif exception.kind is ExceptionKind.EXTRA:
        raise ValidationFailed("extra hours name their window", field="window")
    async with uow_factory() as uow:
        doctor_id = await _caller_as_doctor(uow, access)
        if await uow.calendars.get(doctor_id) is None:
            raise ValidationFailed("set a weekly template (and time zone) first", field="day")
        await uow.calendars.add_exception(doctor_id, exception)
        await uow.audit.record(audit, _entry("calendar.add_exception", doctor_id, "exceptions"))
    return exception


async def remove_exception(
    access: Access,
    audit: AuditContext,
    exception_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> None:
    async with uow_factory() as uow:
        doctor_id = await _caller_as_doctor(uow, access)
        if not await uow.calendars.remove_exception(doctor_id, exception_id):
            raise NotFound("exception not found")
        await uow.audit.record(audit, _entry("calendar.remove_exception", doctor_id, "exceptions"))


async def read_calendar(
    access: Access, doctor_id: uuid.UUID, *, uow_factory: UnitOfWorkFactory[UnitOfWork]
) -> Calendar:
    access.authorize(())
    async with uow_factory(autocommit=True) as uow:
        calendar = await uow.calendars.get(doctor_id)
        if calendar is None or not await uow.doctor_finder.is_listed(doctor_id):
            raise NotFound("doctor has no calendar")
    return calendar
