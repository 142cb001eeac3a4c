"""The doctor directory, so a patient can find a doctor to connect with.

Public professional data only (name, specialty, fee): no contact details.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.params import QueryParameter

from api.params import ZERO_MINIMUM
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import UseCases
from domain.patients import service as patient_service
from domain.patients.model import DoctorListing


class DoctorRead(msgspec.Struct, frozen=True, rename="camel"):
    id: uuid.UUID
    name: str
    specialty: str | None
    consultation_fee_cents: int | None
    currency: str | None

    @classmethod
    def of(cls, doctor: DoctorListing) -> DoctorRead:
        return cls(
            id=doctor.id,
            name=doctor.name,
            specialty=doctor.specialty,
            consultation_fee_cents=doctor.consultation_fee_cents,
            currency=doctor.currency,
        )


class DoctorList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[DoctorRead]


class DoctorsController(Controller):
    path = "/doctors"
    tags = ["doctors"]

    @get(
        "/",
        operation_id="listDoctors",
        summary="Active doctors by name, with specialty and consultation fee",
        responses=api_responses(400),
        opt={"policy": "doctor.list"},
    )
    async def list_doctors(
        self,
        access: AccessDep,
        cases: UseCases,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=100_000, schema_extra=ZERO_MINIMUM)] = 0,
    ) -> DoctorList:
        doctors = await cases.run(patient_service.list_doctors, access, limit=limit, offset=offset)
        return DoctorList(items=[DoctorRead.of(doctor) for doctor in doctors])
