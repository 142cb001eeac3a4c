"""Reading a patient's vitals: a filtered page, or the newest of each type. Audited."""

from __future__ import annotations

import uuid

from domain.auditing import AuditContext, AuditEntry
from domain.patients.access import authorize_patient
from domain.policies import Access
from domain.transactions import UnitOfWorkFactory
from domain.vitals.model import Reading, ReadingFilter, ReadingPage
from domain.vitals.ports import UnitOfWork


def _read(action: str, patient_id: uuid.UUID) -> AuditEntry:
    return AuditEntry(action=action, resource_type="patient", resource_id=str(patient_id))


async def list_readings(
    access: Access,
    audit: AuditContext,
    patient_id: uuid.UUID,
    query: ReadingFilter,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> ReadingPage:
    query = query.checked()
    async with uow_factory(autocommit=True) as uow:
        await authorize_patient(uow, access, patient_id)
        page = await uow.readings.page(patient_id, query)
        await uow.audit.record(audit, _read("vital.list", patient_id))
    return page


async def latest_readings(
    access: Access,
    audit: AuditContext,
    patient_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> list[Reading]:
    async with uow_factory(autocommit=True) as uow:
        await authorize_patient(uow, access, patient_id)
        latest = await uow.readings.latest(patient_id)
        await uow.audit.record(audit, _read("vital.latest", patient_id))
    return latest
