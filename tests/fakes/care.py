"""Who stands to a patient, in memory: the patients that exist and doctors' active connections
(what ``domain.patients.access`` asks of a unit of work)."""

from __future__ import annotations

import uuid

from domain.clock import Clock
from tests.fakes.database import FakeDatabase


class FakePatientRepository:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._patients: dict[uuid.UUID, bool] = database.table("patients")

    async def exists(self, patient_id: uuid.UUID) -> bool:
        return self._patients.get(patient_id, False)

    def put(self, patient_id: uuid.UUID) -> None:
        """Test setup: a patient whose account is active."""
        self._patients[patient_id] = True


class FakeConnectionRepository:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._active: dict[tuple[uuid.UUID, uuid.UUID], bool] = database.table("connections")

    async def is_active(self, doctor_id: uuid.UUID, patient_id: uuid.UUID) -> bool:
        return self._active.get((doctor_id, patient_id), False)

    def connect(self, doctor_id: uuid.UUID, patient_id: uuid.UUID) -> None:
        """Test setup: an active connection between the doctor and the patient."""
        self._active[(doctor_id, patient_id)] = True
