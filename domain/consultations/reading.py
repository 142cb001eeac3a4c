"""Reading one consultation: its patient, its doctor, or an admin; to anyone else it is missing."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec

from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.consultations.model import (
    Consultation,
    ConsultationFilter,
    ConsultationPage,
    ConsultationStatus,
    Period,
)
from domain.consultations.ports import UnitOfWork
from domain.errors import NotFound
from domain.policies import Access, party_relations
from domain.transactions import UnitOfWorkFactory


def as_party(access: Access, consultation: Consultation | None) -> Consultation:
    """The consultation if the caller may act on it under the route's policy; else a 404."""
    access.authorize(
        party_relations(access.principal, consultation.parties if consultation else None)
    )
    if consultation is None:  # unreachable: nobody is a party to a missing consultation
        raise NotFound("consultation not found")
    return consultation


async def read_consultation(
    access: Access, consultation_id: uuid.UUID, *, uow_factory: UnitOfWorkFactory[UnitOfWork]
) -> Consultation:
    async with uow_factory(autocommit=True) as uow:
        return as_party(access, await uow.consultations.get(consultation_id))


async def list_consultations(
    access: Access,
    audit: AuditContext,
    query: ConsultationFilter,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> ConsultationPage:
    """The caller's consultations (a patient's or a doctor's own; an admin's: everyone's).
    Who sees whom is patient data, so reading the list is audited."""
    if not access.sees_all():
        caller = access.user_uuid
        if caller is None:
            return ConsultationPage(items=[], next_cursor=None)
        query = msgspec.structs.replace(query, party_id=caller)
    async with uow_factory(autocommit=True) as uow:
        page = await uow.consultations.page(query, clock.now())
        await uow.audit.record(
            audit, AuditEntry(action="consultation.list", resource_type="consultation")
        )
    return page


async def doctor_day(
    access: Access,
    audit: AuditContext,
    day: date,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> tuple[str, list[Consultation]]:
    """The calling doctor's consultations on one of their local days, in order: booked ones
    (held, confirmed, in progress) and finished ones alike; with the day's time zone."""
    access.authorize(())
    doctor_id = access.user_uuid
    if doctor_id is None:
        raise NotFound("doctor not found")
    async with uow_factory(autocommit=True) as uow:
        calendar = await uow.calendars.get(doctor_id)
        zone = calendar.time_zone if calendar else "UTC"
        start = datetime.combine(day, time.min, tzinfo=ZoneInfo(zone))
        end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=ZoneInfo(zone))
        items: list[Consultation] = []
        for period in (Period.PAST, Period.UPCOMING):
            query = ConsultationFilter(
                party_id=doctor_id,
                doctor_id=doctor_id,
                period=period,
                start=start,
                end=end,
                limit=MAX_DAY,
            )
            items += (await uow.consultations.page(query, clock.now())).items
        await uow.audit.record(
            audit, AuditEntry(action="consultation.day", resource_type="consultation")
        )
    shown = [c for c in items if c.status is not ConsultationStatus.RELEASED]
    return zone, sorted(shown, key=lambda c: c.starts_at)


MAX_DAY = 500
