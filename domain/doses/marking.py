"""A patient says what they did about a dose: taken (when) or skipped (why); and who reads
a patient's doses (the patient, their connected doctors).

A dose taken more than DOSE_LATE_AFTER_MINUTES after it was due is recorded late. A
settled dose (taken, skipped, missed) may be marked again: the trail records an edit.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.doses.model import (
    Dose,
    DoseEventKind,
    check_markable,
    check_taken_at,
    is_late,
    skip_reason,
)
from domain.doses.ports import UnitOfWork
from domain.errors import NotFound, ValidationFailed
from domain.patients.access import authorize_patient
from domain.policies import Access, patient_relations
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory

MAX_WINDOW = timedelta(days=92)
DEFAULT_BEFORE = timedelta(days=1)
DEFAULT_WINDOW = timedelta(days=15)


def _entry(action: str, dose_id: uuid.UUID | None, *fields: str) -> AuditEntry:
    return AuditEntry(
        action=action,
        resource_type="dose",
        resource_id=str(dose_id) if dose_id else None,
        changed_fields=fields,
    )


async def _own_dose(uow: UnitOfWork, access: Access, dose_id: uuid.UUID) -> Dose:
    dose = await uow.doses.get(dose_id, lock=True)
    access.authorize(
        patient_relations(access.principal, dose.patient_id if dose else None, connected=False)
    )
    if dose is None:  # unreachable: nobody stands in a relation to a missing dose
        raise NotFound("dose not found")
    return dose


async def mark_taken(
    access: Access,
    audit: AuditContext,
    dose_id: uuid.UUID,
    taken_at: datetime | None,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
) -> Dose:
    now = clock.now()
    when = taken_at or now
    async with uow_factory() as uow:
        dose = await _own_dose(uow, access, dose_id)
        kind = check_markable(dose, DoseEventKind.TAKEN)
        check_taken_at(dose, when, now)
        late = is_late(dose.due_at, when, timedelta(minutes=settings.dose_late_after_minutes))
        marked = await uow.doses.mark_taken(dose.id, kind, when, late, now)
        await uow.audit.record(audit, _entry("dose.taken", dose.id, "status", "taken_at"))
    return marked


async def mark_skipped(
    access: Access,
    audit: AuditContext,
    dose_id: uuid.UUID,
    reason: str,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> Dose:
    cleaned = skip_reason(reason)
    async with uow_factory() as uow:
        dose = await _own_dose(uow, access, dose_id)
        kind = check_markable(dose, DoseEventKind.SKIPPED)
        marked = await uow.doses.mark_skipped(dose.id, kind, cleaned, clock.now())
        await uow.audit.record(audit, _entry("dose.skipped", dose.id, "status", "reason"))
    return marked


async def list_doses(
    access: Access,
    audit: AuditContext,
    patient_id: uuid.UUID,
    since: datetime | None,
    until: datetime | None,
    prescription_id: uuid.UUID | None,
    limit: int,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> list[Dose]:
    """The patient's doses due in [since, until) (at most 92 days; by default from a day ago
    to two weeks ahead), earliest first."""
    since = since or clock.now() - DEFAULT_BEFORE
    until = until or since + DEFAULT_WINDOW
    if until <= since or until - since > MAX_WINDOW:
        raise ValidationFailed("the window runs forward, at most 92 days", field="until")
    async with uow_factory(autocommit=True) as uow:
        await authorize_patient(uow, access, patient_id)
        await uow.audit.record(audit, _entry("dose.list", None))
        return await uow.doses.page(
            patient_id, since=since, until=until, prescription_id=prescription_id, limit=limit
        )
