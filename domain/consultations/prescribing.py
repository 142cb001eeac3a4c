"""Prescriptions written from a consultation: its doctor writes one through the prescriptions
feature (``POST /prescriptions``) for the consultation's patient, then links it here, once the
consultation has started. Both sides list what a consultation prescribed."""

from __future__ import annotations

import uuid

from domain.auditing import AuditContext
from domain.clock import Clock
from domain.consultations.hold import consultation_entry
from domain.consultations.model import ConsultationStatus
from domain.consultations.ports import UnitOfWork
from domain.consultations.reading import as_party
from domain.errors import Conflict, InvalidTransition, NotFound
from domain.policies import Access
from domain.transactions import UnitOfWorkFactory

STARTED = frozenset({ConsultationStatus.IN_PROGRESS, ConsultationStatus.COMPLETED})


async def link_prescription(
    access: Access,
    audit: AuditContext,
    consultation_id: uuid.UUID,
    prescription_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> list[uuid.UUID]:
    async with uow_factory() as uow:
        consultation = as_party(access, await uow.consultations.get(consultation_id, lock=True))
        if consultation.status not in STARTED:
            raise InvalidTransition("prescriptions are linked once the consultation has started")
        prescription = await uow.prescriptions.get(prescription_id)
        if (
            prescription is None
            or prescription.doctor_id != access.user_uuid
            or prescription.patient_id != consultation.patient_id
        ):  # only the caller's own prescriptions for this patient: anything else is missing
            raise NotFound("prescription not found")
        if not await uow.consultations.link_prescription(
            consultation.id, prescription.id, clock.now()
        ):
            raise Conflict("this prescription is linked to a consultation already", code="linked")
        await uow.audit.record(
            audit,
            consultation_entry("consultation.link_prescription", consultation.id, "prescriptions"),
        )
        return await uow.consultations.prescriptions(consultation.id)


async def consultation_prescriptions(
    access: Access,
    audit: AuditContext,
    consultation_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> list[uuid.UUID]:
    async with uow_factory(autocommit=True) as uow:
        consultation = as_party(access, await uow.consultations.get(consultation_id))
        found = await uow.consultations.prescriptions(consultation.id)
        await uow.audit.record(
            audit, consultation_entry("consultation.read_prescriptions", consultation.id)
        )
    return found
