"""A patient's adherence over a period: per bucket, in total, and against the period before."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import msgspec

from domain.adherence.model import Granularity, Tally, Trend
from domain.adherence.ports import UnitOfWork
from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.errors import ValidationFailed
from domain.patients.access import authorize_patient
from domain.policies import Access
from domain.transactions import UnitOfWorkFactory

MAX_PERIOD_DAYS = 400
DEFAULT_PERIOD_DAYS = 30


class Adherence(msgspec.Struct, frozen=True):
    patient_id: uuid.UUID
    prescription_id: uuid.UUID | None
    first: date
    last: date
    granularity: Granularity
    total: Tally
    buckets: list[tuple[date, Tally]]
    trend: Trend


def period(first: date | None, last: date | None, today: date) -> tuple[date, date]:
    """The days asked for: by default the last ``DEFAULT_PERIOD_DAYS`` up to today."""
    last = last or today
    first = first or last - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if first > last:
        raise ValidationFailed("'from' must not be after 'to'", code="bad_period", field="from")
    if (last - first).days >= MAX_PERIOD_DAYS:
        raise ValidationFailed(
            f"a period spans at most {MAX_PERIOD_DAYS} days", code="bad_period", field="from"
        )
    return first, last


async def read_adherence(
    access: Access,
    audit_context: AuditContext,
    patient_id: uuid.UUID,
    first: date | None,
    last: date | None,
    granularity: Granularity,
    prescription_id: uuid.UUID | None,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> Adherence:
    first, last = period(first, last, clock.now().date())
    span = last - first + timedelta(days=1)
    async with uow_factory(autocommit=True) as uow:
        await authorize_patient(uow, access, patient_id)
        current = await uow.adherence.tallies(patient_id, first, last, granularity, prescription_id)
        before = await uow.adherence.tallies(
            patient_id, first - span, first - timedelta(days=1), Granularity.MONTH, prescription_id
        )
        await uow.audit.record(
            audit_context,
            AuditEntry(
                action="adherence.read", resource_type="patient", resource_id=str(patient_id)
            ),
        )
    total = sum(current.values(), Tally())
    previous = sum(before.values(), Tally())
    return Adherence(
        patient_id=patient_id,
        prescription_id=prescription_id,
        first=first,
        last=last,
        granularity=granularity,
        total=total,
        buckets=sorted(current.items()),
        trend=Trend(total.adherence, previous.adherence),
    )
