"""A patient's data: contact details and clinical notes, for the patient and their doctors.

Who may read or change what is the ``patient.*`` and ``clinical_notes.*``
policies' business: the patient, a doctor with an active connection, and
(read only) an admin. Anyone else gets the 404 of a missing patient. Every
read is audited, like every change.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

import msgspec
from litestar import Controller, get, patch, put
from litestar.params import FromPath, JSONBody

from api.audit_context import AuditContextDep
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import UseCases
from domain.patients import service as patient_service
from domain.patients.model import MAX_CLINICAL_NOTES_CHARS, ContactChanges, Patient


class PatientRead(msgspec.Struct, frozen=True, rename="camel"):
    id: uuid.UUID
    name: str
    email: str
    phone: str | None
    date_of_birth: date | None

    @classmethod
    def of(cls, patient: Patient) -> PatientRead:
        return cls(
            id=patient.id,
            name=patient.name,
            email=patient.email,
            phone=patient.phone,
            date_of_birth=patient.date_of_birth,
        )


class PatientUpdate(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """Only the fields present change; ``null`` clears one."""

    phone: Annotated[str, msgspec.Meta(max_length=32)] | msgspec.UnsetType | None = msgspec.UNSET
    date_of_birth: date | msgspec.UnsetType | None = msgspec.UNSET


class ClinicalNotesRead(msgspec.Struct, frozen=True, rename="camel"):
    patient_id: uuid.UUID
    notes: str | None


class ClinicalNotesWrite(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    notes: Annotated[str, msgspec.Meta(max_length=MAX_CLINICAL_NOTES_CHARS)]


PatientId = FromPath[uuid.UUID]


class PatientsController(Controller):
    path = "/patients"
    tags = ["patients"]

    @get(
        "/{patient_id:uuid}",
        operation_id="getPatient",
        summary="A patient's details (the patient, a connected doctor, an admin); audited",
        responses=api_responses(400, 404),
        opt={"policy": "patient.read"},
    )
    async def get_patient(
        self,
        patient_id: PatientId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> PatientRead:
        patient = await cases.run(patient_service.read_patient, access, audit_context, patient_id)
        return PatientRead.of(patient)

    @patch(
        "/{patient_id:uuid}",
        operation_id="updatePatient",
        summary="The patient changes their phone or date of birth; audited",
        responses=api_responses(400, 403, 404, 413, 422),
        opt={"policy": "patient.update"},
    )
    async def update_patient(
        self,
        patient_id: PatientId,
        data: JSONBody[PatientUpdate],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> PatientRead:
        changes = ContactChanges(phone=data.phone, date_of_birth=data.date_of_birth)
        patient = await cases.run(
            patient_service.update_patient, access, audit_context, patient_id, changes
        )
        return PatientRead.of(patient)

    @get(
        "/{patient_id:uuid}/clinical-notes",
        operation_id="getClinicalNotes",
        summary="A patient's clinical notes (the patient, a connected doctor); audited",
        responses=api_responses(400, 403, 404),
        opt={"policy": "clinical_notes.read"},
    )
    async def get_clinical_notes(
        self,
        patient_id: PatientId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> ClinicalNotesRead:
        notes = await cases.run(
            patient_service.read_clinical_notes, access, audit_context, patient_id
        )
        return ClinicalNotesRead(patient_id=notes.patient_id, notes=notes.notes)

    @put(
        "/{patient_id:uuid}/clinical-notes",
        operation_id="putClinicalNotes",
        summary="A connected doctor replaces a patient's clinical notes; audited",
        responses=api_responses(400, 403, 404, 413, 422),
        opt={"policy": "clinical_notes.write"},
    )
    async def put_clinical_notes(
        self,
        patient_id: PatientId,
        data: JSONBody[ClinicalNotesWrite],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> ClinicalNotesRead:
        notes = await cases.run(
            patient_service.write_clinical_notes, access, audit_context, patient_id, data.notes
        )
        return ClinicalNotesRead(patient_id=notes.patient_id, notes=notes.notes)
