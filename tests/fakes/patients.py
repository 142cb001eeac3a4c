"""Patients and the doctor directory in memory: who exists as a patient, who is a listed doctor."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from domain.clock import Clock
from domain.patients.model import DoctorListing, PatientRecord
from domain.sealing import Sealed
from tests.fakes.database import FakeDatabase


class FakePatientRepository:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._patients: dict[uuid.UUID, PatientRecord] = database.table("patients")
        self._notes: dict[uuid.UUID, Sealed] = database.table("clinical_notes")

    async def get(self, patient_id: uuid.UUID) -> PatientRecord | None:
        return self._patients.get(patient_id)

    async def exists(self, patient_id: uuid.UUID) -> bool:
        return patient_id in self._patients

    async def update_contact(
        self,
        patient_id: uuid.UUID,
        now: datetime,
        *,
        phone: Sealed | msgspec.UnsetType | None = msgspec.UNSET,
        date_of_birth: Sealed | msgspec.UnsetType | None = msgspec.UNSET,
    ) -> None:
        changes = {
            name: value
            for name, value in (("phone", phone), ("date_of_birth", date_of_birth))
            if value is not msgspec.UNSET
        }
        self._patients[patient_id] = msgspec.structs.replace(self._patients[patient_id], **changes)

    async def clinical_notes(self, patient_id: uuid.UUID) -> Sealed | None:
        return self._notes.get(patient_id)

    async def set_clinical_notes(self, patient_id: uuid.UUID, notes: Sealed) -> None:
        self._notes[patient_id] = notes

    def put(self, patient: PatientRecord | uuid.UUID) -> None:
        """Test setup: a patient (a bare id: an active patient with nothing else on file)."""
        if isinstance(patient, uuid.UUID):
            patient = PatientRecord(id=patient, name="", email="", phone=None, date_of_birth=None)
        self._patients[patient.id] = patient


class FakeDoctorDirectory:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._doctors: dict[uuid.UUID, DoctorListing] = database.table("doctors")

    async def is_listed(self, doctor_id: uuid.UUID) -> bool:
        return doctor_id in self._doctors

    async def page(self, *, limit: int, offset: int) -> list[DoctorListing]:
        ordered = sorted(self._doctors.values(), key=lambda d: (d.name.casefold(), d.id))
        return ordered[offset : offset + limit]

    def put(self, doctor: DoctorListing) -> None:
        self._doctors[doctor.id] = doctor
