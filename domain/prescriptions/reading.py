"""Reading prescriptions: the patient and their connected doctors; every read is audited
(a prescription is patient data)."""

from __future__ import annotations

import uuid

from domain.auditing import AuditContext
from domain.patients.access import authorize_patient, named_or_own
from domain.policies import Access
from domain.prescriptions.access import as_reader, read_entry
from domain.prescriptions.model import Prescription, PrescriptionEvent, PrescriptionStatus
from domain.prescriptions.ports import UnitOfWork
from domain.transactions import UnitOfWorkFactory

PAGE_MAX = 100


async def get_prescription(
    access: Access,
    audit: AuditContext,
    prescription_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> Prescription:
    async with uow_factory(autocommit=True) as uow:
        found = await as_reader(uow, access, await uow.prescriptions.get(prescription_id))
        await uow.audit.record(audit, read_entry("prescription.read", found.id))
    return found


async def prescription_history(
    access: Access,
    audit: AuditContext,
    prescription_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> list[PrescriptionEvent]:
    """Every change of the prescription, oldest first."""
    async with uow_factory(autocommit=True) as uow:
        found = await as_reader(uow, access, await uow.prescriptions.get(prescription_id))
        await uow.audit.record(audit, read_entry("prescription.history", found.id))
        return await uow.prescriptions.history(found.id)


async def list_prescriptions(
    access: Access,
    audit: AuditContext,
    patient_id: uuid.UUID | None,
    status: PrescriptionStatus | None,
    limit: int,
    cursor: str | None,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> tuple[list[Prescription], str | None]:
    """A patient's prescriptions, newest first; a patient's own when no patient is named."""
    patient_id = named_or_own(access, patient_id)
    async with uow_factory(autocommit=True) as uow:
        await authorize_patient(uow, access, patient_id)
        await uow.audit.record(audit, read_entry("prescription.list", None))
        return await uow.prescriptions.page(
            patient_id, status=status, limit=min(limit, PAGE_MAX), cursor=cursor
        )
