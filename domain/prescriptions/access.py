"""How a caller stands to a prescription, and what every change records.

The prescribing doctor writes (edits a draft, activates, completes, cancels) while an
active connection still links them to the patient; a prescription no doctor of ours wrote
(the patient's own record of a paper prescription, confirmed from a scan) is written by the
patient. The patient and the patient's connected doctors read. Anyone else gets the 404 a
missing prescription gets.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from domain.auditing import AuditContext, AuditEntry
from domain.errors import NotFound
from domain.patients.access import authorize_patient
from domain.policies import Access, owner_relations
from domain.prescriptions.model import Prescription, PrescriptionEvent, PrescriptionStatus
from domain.prescriptions.ports import UnitOfWork


async def as_prescriber(
    uow: UnitOfWork, access: Access, prescription: Prescription | None
) -> Prescription:
    owner = str(prescription.owner_id) if prescription else None
    access.authorize(owner_relations(access.principal, owner))
    if prescription is None:  # unreachable: nobody owns a missing prescription
        raise NotFound("prescription not found")
    doctor = prescription.doctor_id
    if doctor is not None and not await uow.connections.is_active(doctor, prescription.patient_id):
        raise NotFound("prescription not found")  # no longer this patient's doctor
    return prescription


async def as_reader(
    uow: UnitOfWork, access: Access, prescription: Prescription | None
) -> Prescription:
    if prescription is None:
        access.authorize(frozenset())
        raise NotFound("prescription not found")
    await authorize_patient(uow, access, prescription.patient_id, exists=True)
    return prescription


async def record_change(
    uow: UnitOfWork,
    audit: AuditContext,
    prescription: Prescription,
    action: str,
    from_status: PrescriptionStatus | None,
    fields: tuple[str, ...],
    now: datetime,
) -> None:
    """The change in the prescription's own history and on the audit trail."""
    await uow.prescriptions.record_event(
        prescription.id,
        PrescriptionEvent(
            action=action,
            actor_id=audit.actor_id or "system",
            from_status=from_status,
            to_status=prescription.status,
            changed_fields=fields,
            at=now,
        ),
    )
    await uow.audit.record(
        audit,
        AuditEntry(
            action=f"prescription.{action}",
            resource_type="prescription",
            resource_id=str(prescription.id),
            changed_fields=fields,
        ),
    )


def read_entry(action: str, resource_id: uuid.UUID | None) -> AuditEntry:
    return AuditEntry(
        action=action,
        resource_type="prescription",
        resource_id=str(resource_id) if resource_id else None,
    )
