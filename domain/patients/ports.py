"""Where patients' data and the doctor directory are kept."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

import msgspec

from domain.auditing import AuditLog
from domain.connections.ports import ConnectionRepository
from domain.jobs.ports import JobRepository
from domain.patients.model import DoctorListing, PatientRecord
from domain.sealing import Sealed


class PatientRepository(Protocol):
    """Patients' own data, PHI sealed; the caller opens it after the access check."""

    async def get(self, patient_id: uuid.UUID) -> PatientRecord | None: ...

    async def exists(self, patient_id: uuid.UUID) -> bool:
        """An account that may act as a patient: role patient, not disabled."""
        ...

    async def update_contact(
        self,
        patient_id: uuid.UUID,
        now: datetime,
        *,
        phone: Sealed | msgspec.UnsetType | None = msgspec.UNSET,
        date_of_birth: Sealed | msgspec.UnsetType | None = msgspec.UNSET,
    ) -> None: ...

    async def clinical_notes(self, patient_id: uuid.UUID) -> Sealed | None: ...

    async def set_clinical_notes(self, patient_id: uuid.UUID, notes: Sealed) -> None: ...


class DoctorDirectory(Protocol):
    async def is_listed(self, doctor_id: uuid.UUID) -> bool:
        """An active doctor account: one a patient may ask to connect with."""
        ...

    async def page(self, *, limit: int, offset: int) -> list[DoctorListing]:
        """Active doctors by name (case-insensitively, then by id)."""
        ...


class UnitOfWork(Protocol):
    """What the patients feature reads and writes in one database transaction."""

    patients: PatientRepository
    doctors: DoctorDirectory
    connections: ConnectionRepository
    audit: AuditLog
    jobs: JobRepository
