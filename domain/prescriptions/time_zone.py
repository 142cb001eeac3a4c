"""A patient's time zone: where their doses' local times are read. Changing it makes the
doses still to come again, at the same local times in the new zone."""

from __future__ import annotations

import uuid

from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.doses.model import zone
from domain.patients.access import authorize_patient
from domain.policies import Access
from domain.prescriptions.ports import UnitOfWork
from domain.prescriptions.scheduling import reschedule_patient
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory


async def set_time_zone(
    access: Access,
    audit: AuditContext,
    patient_id: uuid.UUID,
    time_zone: str,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
) -> str:
    zone(time_zone)  # an IANA name, or ValidationFailed
    async with uow_factory() as uow:
        await authorize_patient(uow, access, patient_id)
        if await uow.time_zones.of(patient_id) == time_zone:
            return time_zone
        await uow.time_zones.set(patient_id, time_zone)
        await reschedule_patient(uow, patient_id, clock.now(), settings.dose_horizon_days)
        await uow.audit.record(
            audit,
            AuditEntry(
                action="patient.time_zone",
                resource_type="patient",
                resource_id=str(patient_id),
                changed_fields=("time_zone",),
            ),
        )
    return time_zone


async def get_time_zone(
    access: Access, patient_id: uuid.UUID, *, uow_factory: UnitOfWorkFactory[UnitOfWork]
) -> str:
    async with uow_factory(autocommit=True) as uow:
        await authorize_patient(uow, access, patient_id)
        return await uow.time_zones.of(patient_id)
