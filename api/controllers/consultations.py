"""Consultations: a patient holds a doctor's time (and pays for it), both sides follow it.

Holding answers at once: 201 with the HELD consultation and its payment's KHQR (a zero fee:
CONFIRMED, no payment), 409 ``time_taken`` when another hold won the time. Send an
``Idempotency-Key`` to make a retry safe: the same key and body return the first answer
(``Idempotent-Replayed: true``). Someone else's consultation answers 404.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated

import msgspec
from litestar import Controller, Response, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from api.audit_context import AuditContextDep
from api.commands import IdempotencyKey
from api.params import Cursor, moment, moment_parameter
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import UseCases
from domain.consultations.hold import Held, HoldRequest, hold_consultation
from domain.consultations.lifecycle import act_on_consultation, reschedule_consultation
from domain.consultations.model import (
    Consultation,
    ConsultationFilter,
    ConsultationStatus,
    Period,
)
from domain.consultations.notes import MAX_NOTES, read_notes, write_notes
from domain.consultations.prescribing import consultation_prescriptions, link_prescription
from domain.consultations.reading import doctor_day, list_consultations, read_consultation
from domain.payments.model import Payment


class HoldBody(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    doctor_id: uuid.UUID
    starts_at: datetime  # one of the doctor's free times, as the search lists it
    ends_at: datetime


class RescheduleBody(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    starts_at: datetime
    ends_at: datetime


ConsultationId = FromPath[uuid.UUID]


class HoldPayment(msgspec.Struct, frozen=True, rename="camel"):
    id: uuid.UUID
    khqr: str
    md5: str
    expires_at: datetime


class ConsultationRead(msgspec.Struct, frozen=True, rename="camel"):
    id: uuid.UUID
    patient_id: uuid.UUID
    doctor_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    status: ConsultationStatus
    hold_expires_at: datetime | None
    payment_id: uuid.UUID | None
    meeting_url: str | None  # once confirmed
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, consultation: Consultation) -> ConsultationRead:
        shown = consultation.status in (
            ConsultationStatus.CONFIRMED,
            ConsultationStatus.IN_PROGRESS,
        )
        return cls(
            id=consultation.id,
            patient_id=consultation.patient_id,
            doctor_id=consultation.doctor_id,
            starts_at=consultation.starts_at,
            ends_at=consultation.ends_at,
            status=consultation.status,
            hold_expires_at=consultation.hold_expires_at,
            payment_id=consultation.payment_id,
            meeting_url=consultation.room if shown else None,
            created_at=consultation.created_at,
            updated_at=consultation.updated_at,
        )


class HeldRead(msgspec.Struct, frozen=True, rename="camel"):
    consultation: ConsultationRead
    payment: HoldPayment | None

    @classmethod
    def of(cls, held: Held) -> HeldRead:
        payment: Payment | None = held.payment
        return cls(
            consultation=ConsultationRead.of(held.consultation),
            payment=HoldPayment(
                id=payment.id, khqr=payment.khqr, md5=payment.md5, expires_at=payment.expires_at
            )
            if payment
            else None,
        )


class NotesBody(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    notes: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NOTES)]


class NotesRead(msgspec.Struct, frozen=True, rename="camel"):
    notes: str | None


class PrescriptionLink(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    prescription_id: uuid.UUID


class LinkedPrescriptions(msgspec.Struct, frozen=True, rename="camel"):
    prescription_ids: list[uuid.UUID]


class ConsultationList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[ConsultationRead]
    next_cursor: str | None


class DayView(msgspec.Struct, frozen=True, rename="camel"):
    day: date
    time_zone: str
    items: list[ConsultationRead]


class ConsultationsController(Controller):
    path = "/consultations"
    tags = ["consultations"]

    @post(
        "/",
        operation_id="holdConsultation",
        summary="A patient holds one of a doctor's free times and gets the payment to make",
        status_code=201,
        responses=api_responses(400, 403, 404, 409, 413, 422),
        opt={"policy": "consultation.hold"},
    )
    async def hold(
        self,
        data: JSONBody[HoldBody],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
        idempotency_key: IdempotencyKey,
    ) -> Response[HeldRead]:
        request = HoldRequest(
            doctor_id=data.doctor_id, starts_at=data.starts_at, ends_at=data.ends_at
        )
        held = await cases.run(hold_consultation, access, audit_context, request, idempotency_key)
        headers = {"Location": f"/api/v1/consultations/{held.consultation.id}"}
        if held.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(
            HeldRead.of(held), status_code=200 if held.replayed else 201, headers=headers
        )

    @get(
        "/{consultation_id:uuid}",
        operation_id="readConsultation",
        summary="One consultation, to its patient, its doctor or an admin",
        responses=api_responses(400, 404),
        opt={"policy": "consultation.read"},
    )
    async def read(
        self, consultation_id: ConsultationId, access: AccessDep, cases: UseCases
    ) -> ConsultationRead:
        consultation = await cases.run(read_consultation, access, consultation_id)
        return ConsultationRead.of(consultation)

    async def _act(
        self,
        consultation_id: uuid.UUID,
        transition: str,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> ConsultationRead:
        consultation = await cases.run(
            act_on_consultation, access, audit_context, consultation_id, transition
        )
        return ConsultationRead.of(consultation)

    @post(
        "/{consultation_id:uuid}/cancel",
        operation_id="cancelConsultation",
        summary="Either side cancels; a paid fee is refunded by the cancellation policy",
        status_code=200,
        responses=api_responses(400, 403, 404, 409),
        opt={"policy": "consultation.cancel"},
    )
    async def cancel(
        self,
        consultation_id: ConsultationId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> ConsultationRead:
        return await self._act(consultation_id, "cancel", access, audit_context, cases)

    @post(
        "/{consultation_id:uuid}/start",
        operation_id="startConsultation",
        summary="The doctor starts a confirmed consultation (at most 15 minutes early)",
        status_code=200,
        responses=api_responses(400, 403, 404, 409),
        opt={"policy": "consultation.conduct"},
    )
    async def start(
        self,
        consultation_id: ConsultationId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> ConsultationRead:
        return await self._act(consultation_id, "start", access, audit_context, cases)

    @post(
        "/{consultation_id:uuid}/complete",
        operation_id="completeConsultation",
        summary="The doctor completes a consultation in progress",
        status_code=200,
        responses=api_responses(400, 403, 404, 409),
        opt={"policy": "consultation.conduct"},
    )
    async def complete(
        self,
        consultation_id: ConsultationId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> ConsultationRead:
        return await self._act(consultation_id, "complete", access, audit_context, cases)

    @post(
        "/{consultation_id:uuid}/no-show",
        operation_id="markConsultationNoShow",
        summary="The doctor marks that the patient did not come (once its time has come)",
        status_code=200,
        responses=api_responses(400, 403, 404, 409),
        opt={"policy": "consultation.conduct"},
    )
    async def no_show(
        self,
        consultation_id: ConsultationId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> ConsultationRead:
        return await self._act(consultation_id, "no_show", access, audit_context, cases)

    @post(
        "/{consultation_id:uuid}/reschedule",
        operation_id="rescheduleConsultation",
        summary="The patient moves a consultation to another free time of the same doctor",
        status_code=200,
        responses=api_responses(400, 403, 404, 409, 413, 422),
        opt={"policy": "consultation.reschedule"},
    )
    async def reschedule(
        self,
        consultation_id: ConsultationId,
        data: JSONBody[RescheduleBody],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> ConsultationRead:
        consultation = await cases.run(
            reschedule_consultation,
            access,
            audit_context,
            consultation_id,
            data.starts_at,
            data.ends_at,
        )
        return ConsultationRead.of(consultation)

    @get(
        "/",
        operation_id="listConsultations",
        summary="Your consultations (an admin's: everyone's): upcoming soonest first, or past",
        responses=api_responses(400, 422),
        opt={"policy": "consultation.list"},
    )
    async def list_consultations(
        self,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
        period: Annotated[Period, QueryParameter()] = Period.UPCOMING,
        status: Annotated[ConsultationStatus | None, QueryParameter()] = None,
        patient_id: Annotated[uuid.UUID | None, QueryParameter(name="patientId")] = None,
        doctor_id: Annotated[uuid.UUID | None, QueryParameter(name="doctorId")] = None,
        start: Annotated[str | None, moment_parameter("from", "starting at or after")] = None,
        end: Annotated[str | None, moment_parameter("to", "starting before")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
        cursor: Cursor = None,
    ) -> ConsultationList:
        query = ConsultationFilter(
            period=period,
            status=status,
            patient_id=patient_id,
            doctor_id=doctor_id,
            start=moment(start, "from"),
            end=moment(end, "to"),
            limit=limit,
            cursor=cursor,
        )
        page = await cases.run(list_consultations, access, audit_context, query)
        return ConsultationList(
            items=[ConsultationRead.of(item) for item in page.items], next_cursor=page.next_cursor
        )

    @get(
        "/day",
        operation_id="readDoctorDay",
        summary="A doctor's consultations on one of their local days (default: today)",
        responses=api_responses(400, 403),
        opt={"policy": "consultation.day"},
    )
    async def day(
        self,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
        day: Annotated[date | None, QueryParameter(name="date")] = None,
    ) -> DayView:
        shown = day or datetime.now(UTC).date()
        zone, items = await cases.run(doctor_day, access, audit_context, shown)
        return DayView(
            day=shown, time_zone=zone, items=[ConsultationRead.of(item) for item in items]
        )

    @put(
        "/{consultation_id:uuid}/notes",
        operation_id="writeConsultationNotes",
        summary="The doctor writes the consultation's notes (sealed at rest) once it has started",
        status_code=204,
        responses=api_responses(400, 403, 404, 409, 413, 422),
        opt={"policy": "consultation.notes_write"},
    )
    async def write_notes(
        self,
        consultation_id: ConsultationId,
        data: JSONBody[NotesBody],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> None:
        await cases.run(write_notes, access, audit_context, consultation_id, data.notes)

    @get(
        "/{consultation_id:uuid}/notes",
        operation_id="readConsultationNotes",
        summary="The consultation's notes, to its doctor and its patient",
        responses=api_responses(400, 403, 404),
        opt={"policy": "consultation.notes_read"},
    )
    async def read_notes(
        self,
        consultation_id: ConsultationId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> NotesRead:
        return NotesRead(notes=await cases.run(read_notes, access, audit_context, consultation_id))

    @post(
        "/{consultation_id:uuid}/prescriptions",
        operation_id="linkConsultationPrescription",
        summary="The doctor links a prescription they wrote for this patient to the consultation",
        status_code=200,
        responses=api_responses(400, 403, 404, 409, 413, 422),
        opt={"policy": "consultation.prescribe"},
    )
    async def link_prescription(
        self,
        consultation_id: ConsultationId,
        data: JSONBody[PrescriptionLink],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> LinkedPrescriptions:
        linked = await cases.run(
            link_prescription, access, audit_context, consultation_id, data.prescription_id
        )
        return LinkedPrescriptions(prescription_ids=linked)

    @get(
        "/{consultation_id:uuid}/prescriptions",
        operation_id="listConsultationPrescriptions",
        summary="The prescriptions written in a consultation (ids: read them at /prescriptions)",
        responses=api_responses(400, 403, 404),
        opt={"policy": "consultation.prescriptions"},
    )
    async def list_prescriptions(
        self,
        consultation_id: ConsultationId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> LinkedPrescriptions:
        found = await cases.run(consultation_prescriptions, access, audit_context, consultation_id)
        return LinkedPrescriptions(prescription_ids=found)
