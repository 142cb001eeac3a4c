"""Where prescriptions are kept, and what prescribing asks of other features' stores."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from domain.accounts.model import User
from domain.auditing import AuditLog
from domain.connections.ports import ConnectionRepository
from domain.doses.ports import DoseRepository, TimeZones
from domain.jobs.ports import JobRepository
from domain.medicines.ports import MedicineRepository
from domain.notifications.ports import EmailRepository, NoticeRepository
from domain.patients.ports import PatientRepository
from domain.prescriptions.model import (
    Batch,
    BatchPatient,
    Item,
    Prescription,
    PrescriptionEvent,
    PrescriptionStatus,
)


class PrescriptionRepository(Protocol):
    """Prescriptions with their items (details sealed and opened here) and history."""

    async def add(self, prescription: Prescription) -> None: ...

    async def get(
        self, prescription_id: uuid.UUID, *, lock: bool = False
    ) -> Prescription | None: ...

    async def replace_items(self, prescription: Prescription) -> None:
        """Store a draft's new items (and dates) in place of its old ones."""
        ...

    async def move(
        self,
        prescription_id: uuid.UUID,
        source: PrescriptionStatus,
        target: PrescriptionStatus,
        now: datetime,
    ) -> Prescription | None:
        """None when the prescription is no longer in ``source``."""
        ...

    async def record_event(self, prescription_id: uuid.UUID, event: PrescriptionEvent) -> None: ...

    async def history(self, prescription_id: uuid.UUID) -> list[PrescriptionEvent]: ...

    async def page(
        self,
        patient_id: uuid.UUID,
        *,
        status: PrescriptionStatus | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[Prescription], str | None]: ...

    async def active_items(
        self, patient_id: uuid.UUID, *, excluding: uuid.UUID | None = None
    ) -> list[Item]:
        """The items of the patient's active prescriptions (but ``excluding``)."""
        ...

    async def ended(self, now: datetime, limit: int) -> list[Prescription]:
        """Draft or active prescriptions whose last day has passed in the patient's time zone."""
        ...

    async def needing_doses(
        self, now: datetime, horizon_days: int, limit: int, after: uuid.UUID | None = None
    ) -> list[Prescription]:
        """Active prescriptions (by id, after ``after``) with a scheduled item whose doses may
        stop short of the horizon."""
        ...

    async def set_doses_until(self, item_id: uuid.UUID, until: date) -> None: ...

    async def of_patient(
        self, patient_id: uuid.UUID, statuses: Sequence[PrescriptionStatus]
    ) -> list[Prescription]: ...


class PrescriptionBatchRepository(Protocol):
    """Batch commands and each patient's outcome (``Batch``, ``BatchPatient`` in batch.py)."""

    async def add(self, batch: Batch) -> None: ...

    async def get(self, batch_id: uuid.UUID) -> Batch | None: ...

    async def settle(self, batch_id: uuid.UUID, patient: BatchPatient) -> None:
        """Record the patient's outcome (``patient`` carries it)."""
        ...

    async def outcomes(self, batch_id: uuid.UUID) -> list[BatchPatient]: ...


class Users(Protocol):
    """What prescribing asks of the accounts' store: a doctor's name for the patient's e-mail."""

    async def get(self, user_id: uuid.UUID) -> User | None: ...


class UnitOfWork(Protocol):
    prescriptions: PrescriptionRepository
    prescription_batches: PrescriptionBatchRepository
    medicines: MedicineRepository
    doses: DoseRepository
    time_zones: TimeZones
    patients: PatientRepository
    connections: ConnectionRepository
    users: Users
    notices: NoticeRepository
    emails: EmailRepository
    jobs: JobRepository
    audit: AuditLog
