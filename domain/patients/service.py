"""Reading and changing a patient's data: the patient, their connected doctors, and admins.

Every access to patient data - reads included - is recorded in the audit
trail in the same transaction as the access, and the sealed values are
opened inside that transaction, after the access check: a refused or failed
read leaves no event, and no event exists without its read.
"""

from __future__ import annotations

import uuid
from datetime import date

import msgspec
import structlog

from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.errors import NotFound
from domain.patients.access import authorize_patient
from domain.patients.model import (
    ContactChanges,
    DoctorListing,
    Patient,
    PatientRecord,
    clean_changes,
    validate_clinical_notes,
)
from domain.patients.ports import UnitOfWork
from domain.phi.columns import PATIENT_CLINICAL_NOTES, PATIENT_DATE_OF_BIRTH, USER_PHONE
from domain.policies import Access
from domain.sealing import Cipher, Sealed, SealedColumn
from domain.transactions import UnitOfWorkFactory

log = structlog.get_logger(__name__)


async def _authorized(uow: UnitOfWork, access: Access, patient_id: uuid.UUID) -> PatientRecord:
    """The patient's record if the route's policy lets the caller at it; else NotFound."""
    record = await uow.patients.get(patient_id)
    await authorize_patient(uow, access, patient_id, exists=record is not None)
    if record is None:  # unreachable: nobody stands in a relation to a missing patient
        raise NotFound("patient not found")
    return record


def _entry(action: str, patient_id: uuid.UUID, *fields: str) -> AuditEntry:
    return AuditEntry(
        action=action, resource_type="patient", resource_id=str(patient_id), changed_fields=fields
    )


def _open(
    cipher: Cipher, sealed: Sealed | None, column: SealedColumn, row_id: uuid.UUID
) -> str | None:
    if sealed is None:
        return None
    return cipher.open(sealed, column.context(row_id)).decode()


def _seal(cipher: Cipher, value: str, column: SealedColumn, row_id: uuid.UUID) -> Sealed:
    return cipher.seal(value.encode(), column.context(row_id))


def _opened(cipher: Cipher, record: PatientRecord) -> Patient:
    born = _open(cipher, record.date_of_birth, PATIENT_DATE_OF_BIRTH, record.id)
    return Patient(
        id=record.id,
        name=record.name,
        email=record.email,
        phone=_open(cipher, record.phone, USER_PHONE, record.id),
        date_of_birth=date.fromisoformat(born) if born is not None else None,
    )


async def read_patient(
    access: Access,
    audit: AuditContext,
    patient_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    cipher: Cipher,
) -> Patient:
    async with uow_factory(autocommit=True) as uow:
        patient = _opened(cipher, await _authorized(uow, access, patient_id))
        await uow.audit.record(audit, _entry("patient.read", patient_id))
    return patient


async def update_patient(
    access: Access,
    audit: AuditContext,
    patient_id: uuid.UUID,
    changes: ContactChanges,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    cipher: Cipher,
    clock: Clock,
) -> Patient:
    now = clock.now()
    changes = clean_changes(changes, today=now.date())
    sealed: dict[str, Sealed | None] = {}
    if isinstance(changes.phone, str) or changes.phone is None:
        phone = changes.phone
        sealed["phone"] = None if phone is None else _seal(cipher, phone, USER_PHONE, patient_id)
    born = changes.date_of_birth
    if isinstance(born, date) or born is None:
        sealed["date_of_birth"] = (
            None
            if born is None
            else _seal(cipher, born.isoformat(), PATIENT_DATE_OF_BIRTH, patient_id)
        )
    async with uow_factory() as uow:
        await _authorized(uow, access, patient_id)
        await uow.patients.update_contact(patient_id, now, **sealed)
        await uow.audit.record(
            audit, _entry("patient.update", patient_id, *changes.changed_fields())
        )
        record = await uow.patients.get(patient_id)
        if record is None:  # deleted between the two statements of this transaction: a bug
            raise NotFound("patient not found")
        return _opened(cipher, record)


class ClinicalNotes(msgspec.Struct, frozen=True):
    patient_id: uuid.UUID
    notes: str | None


async def read_clinical_notes(
    access: Access,
    audit: AuditContext,
    patient_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    cipher: Cipher,
) -> ClinicalNotes:
    async with uow_factory(autocommit=True) as uow:
        await _authorized(uow, access, patient_id)
        sealed = await uow.patients.clinical_notes(patient_id)
        notes = _open(cipher, sealed, PATIENT_CLINICAL_NOTES, patient_id)
        await uow.audit.record(audit, _entry("clinical_notes.read", patient_id))
    return ClinicalNotes(patient_id=patient_id, notes=notes)


async def write_clinical_notes(
    access: Access,
    audit: AuditContext,
    patient_id: uuid.UUID,
    notes: str,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    cipher: Cipher,
) -> ClinicalNotes:
    validate_clinical_notes(notes)
    sealed = _seal(cipher, notes, PATIENT_CLINICAL_NOTES, patient_id)
    async with uow_factory() as uow:
        await _authorized(uow, access, patient_id)
        await uow.patients.set_clinical_notes(patient_id, sealed)
        await uow.audit.record(audit, _entry("clinical_notes.write", patient_id, "clinical_notes"))
    return ClinicalNotes(patient_id=patient_id, notes=notes)


async def list_doctors(
    access: Access, limit: int, offset: int, *, uow_factory: UnitOfWorkFactory[UnitOfWork]
) -> list[DoctorListing]:
    access.authorize(())  # the role rule only: the directory has no owner
    async with uow_factory(autocommit=True) as uow:
        return await uow.doctors.page(limit=limit, offset=offset)
