"""Doses: a patient's doses as their prescriptions schedule them (the patient, a connected
doctor), marked taken or skipped by the patient; and the time zone they are read in."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from api.audit_context import AuditContextDep
from api.openapi import OptionalBodyOperation
from api.params import moment, moment_parameter
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import UseCases
from domain.doses import marking
from domain.doses.model import MAX_REASON, Dose, DoseStatus
from domain.prescriptions import time_zone


class DoseRead(msgspec.Struct, frozen=True, rename="camel"):
    id: uuid.UUID
    prescription_id: uuid.UUID
    item_id: uuid.UUID
    due_at: datetime
    local_date: date
    amount: str  # a multiple of the item's dose amount
    status: DoseStatus
    late: bool
    taken_at: datetime | None
    reason: str | None
    updated_at: datetime

    @classmethod
    def of(cls, dose: Dose) -> DoseRead:
        return cls(
            id=dose.id,
            prescription_id=dose.prescription_id,
            item_id=dose.item_id,
            due_at=dose.due_at,
            local_date=dose.local_date,
            amount=dose.amount,
            status=dose.status,
            late=dose.late,
            taken_at=dose.taken_at,
            reason=dose.reason,
            updated_at=dose.updated_at,
        )


class DoseList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[DoseRead]


class Taken(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """When it was taken (RFC 3339 with its offset); now if left out."""

    taken_at: datetime | None = None


class Skipped(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_REASON)]


class TimeZoneWrite(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    time_zone: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class TimeZoneRead(msgspec.Struct, frozen=True, rename="camel"):
    time_zone: str


DoseId = FromPath[uuid.UUID]
PatientId = FromPath[uuid.UUID]


class DosesController(Controller):
    path = "/doses"
    tags = ["doses"]

    @post(
        "/{dose_id:uuid}/taken",
        operation_id="markDoseTaken",
        summary="The patient took a dose (late if long after it was due); again: an edit",
        status_code=200,
        operation_class=OptionalBodyOperation,
        responses=api_responses(400, 403, 404, 409, 413, 422),
        opt={"policy": "dose.mark"},
    )
    async def mark_taken(
        self,
        dose_id: DoseId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
        data: JSONBody[Taken | None] = None,
    ) -> DoseRead:
        taken_at = (data or Taken()).taken_at
        return DoseRead.of(
            await cases.run(marking.mark_taken, access, audit_context, dose_id, taken_at)
        )

    @post(
        "/{dose_id:uuid}/skipped",
        operation_id="markDoseSkipped",
        summary="The patient skipped a dose, and says why",
        status_code=200,
        responses=api_responses(400, 403, 404, 409, 413, 422),
        opt={"policy": "dose.mark"},
    )
    async def mark_skipped(
        self,
        dose_id: DoseId,
        data: JSONBody[Skipped],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> DoseRead:
        return DoseRead.of(
            await cases.run(marking.mark_skipped, access, audit_context, dose_id, data.reason)
        )


class PatientDosesController(Controller):
    path = "/patients/{patient_id:uuid}"
    tags = ["doses"]

    @get(
        "/doses",
        operation_id="listDoses",
        summary="A patient's doses due in a window (default: a day ago to two weeks ahead)",
        responses=api_responses(400, 403, 404, 422),
        opt={"policy": "dose.list"},
    )
    async def list_doses(
        self,
        patient_id: PatientId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
        since: Annotated[str | None, moment_parameter("from", "inclusive, RFC 3339")] = None,
        until: Annotated[str | None, moment_parameter("to", "exclusive, RFC 3339")] = None,
        prescription_id: Annotated[uuid.UUID | None, QueryParameter(name="prescriptionId")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 200,
    ) -> DoseList:
        doses = await cases.run(
            marking.list_doses,
            access,
            audit_context,
            patient_id,
            moment(since, "from"),
            moment(until, "to"),
            prescription_id,
            limit,
        )
        return DoseList(items=[DoseRead.of(dose) for dose in doses])

    @get(
        "/time-zone",
        operation_id="getTimeZone",
        summary="The IANA time zone a patient's doses are scheduled in",
        responses=api_responses(400, 404),
        opt={"policy": "patient.read"},
    )
    async def get_time_zone(
        self, patient_id: PatientId, access: AccessDep, cases: UseCases
    ) -> TimeZoneRead:
        return TimeZoneRead(await cases.run(time_zone.get_time_zone, access, patient_id))

    @put(
        "/time-zone",
        operation_id="setTimeZone",
        summary="The patient sets their IANA time zone; doses to come keep their local times",
        responses=api_responses(400, 403, 404, 413, 422),
        opt={"policy": "patient.time_zone"},
    )
    async def set_time_zone(
        self,
        patient_id: PatientId,
        data: JSONBody[TimeZoneWrite],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> TimeZoneRead:
        chosen = await cases.run(
            time_zone.set_time_zone, access, audit_context, patient_id, data.time_zone
        )
        return TimeZoneRead(chosen)
