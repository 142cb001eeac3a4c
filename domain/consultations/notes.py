"""The doctor's notes of a consultation: written by its doctor once it has started, read by
its doctor and its patient. They are PHI: sealed at rest, never logged, every access audited
(the routes' policies say ``patient_data``)."""

from __future__ import annotations

import uuid

from domain.auditing import AuditContext
from domain.consultations.hold import consultation_entry
from domain.consultations.model import ConsultationStatus
from domain.consultations.ports import UnitOfWork
from domain.consultations.reading import as_party
from domain.errors import InvalidTransition, ValidationFailed
from domain.policies import Access
from domain.transactions import UnitOfWorkFactory

MAX_NOTES = 20_000
WRITABLE = frozenset({ConsultationStatus.IN_PROGRESS, ConsultationStatus.COMPLETED})


async def write_notes(
    access: Access,
    audit: AuditContext,
    consultation_id: uuid.UUID,
    notes: str,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> None:
    if not notes.strip() or len(notes) > MAX_NOTES:
        raise ValidationFailed(f"notes are 1 to {MAX_NOTES} characters", field="notes")
    async with uow_factory() as uow:
        consultation = as_party(access, await uow.consultations.get(consultation_id, lock=True))
        if consultation.status not in WRITABLE:
            raise InvalidTransition("notes are written once the consultation has started")
        await uow.consultations.set_notes(consultation.id, notes)
        await uow.audit.record(
            audit, consultation_entry("consultation.notes", consultation.id, "notes")
        )


async def read_notes(
    access: Access,
    audit: AuditContext,
    consultation_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> str | None:
    async with uow_factory(autocommit=True) as uow:
        consultation = as_party(access, await uow.consultations.get(consultation_id))
        notes = await uow.consultations.notes(consultation.id)
        await uow.audit.record(
            audit, consultation_entry("consultation.read_notes", consultation.id)
        )
    return notes
