"""Prescriptions: a connected doctor writes a draft, edits it, activates it (doses are made,
the patient is e-mailed and told in the app), completes or cancels it; the patient does the
same with their own record of a paper prescription (confirmed from a scan, scans.py); the
patient and their connected doctors read them and their history. Ids travel in URLs, never
what is prescribed.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

import msgspec
from litestar import Controller, Response, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from api.audit_context import AuditContextDep
from api.commands import IdempotencyKey, JobAccepted, accepted
from api.params import Cursor
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import UseCases
from domain.medicines.model import InteractionWarning, Severity
from domain.prescriptions import batch, lifecycle, reading, writing
from domain.prescriptions.model import (
    MAX_INSTRUCTIONS,
    MAX_ITEMS,
    Item,
    ItemInput,
    Prescription,
    PrescriptionEvent,
    PrescriptionSource,
    PrescriptionStatus,
    Timing,
)

Short = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class ItemWrite(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """One item; give ``durationDays`` or ``endDate``."""

    medicine_id: uuid.UUID
    strength: Short
    dose_amount: Annotated[str, msgspec.Meta(min_length=1, max_length=10)]
    dose_form: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    frequency: Short
    start_date: date
    timing: Timing = Timing.ANY
    duration_days: Annotated[int, msgspec.Meta(ge=1, le=366)] | None = None
    end_date: date | None = None
    instructions: Annotated[str, msgspec.Meta(max_length=MAX_INSTRUCTIONS)] = ""

    def input(self) -> ItemInput:
        return ItemInput(**msgspec.structs.asdict(self))


Items = Annotated[list[ItemWrite], msgspec.Meta(min_length=1, max_length=MAX_ITEMS)]


class PrescriptionCreate(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    patient_id: uuid.UUID
    items: Items


class BatchCreate(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """The same items for each patient; ``activate``: activate each one as it is made."""

    patient_ids: Annotated[list[uuid.UUID], msgspec.Meta(min_length=1, max_length=500)]
    items: Items
    activate: bool = False


class PrescriptionEdit(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """The draft's items, all of them (they replace the old ones)."""

    items: Items


class ScheduleRead(msgspec.Struct, frozen=True, rename="camel"):
    notation: str
    times: list[str]  # local times of day, HH:MM
    amounts: list[str]  # multiples of the dose amount, one per time
    every_days: int
    as_needed: bool


class ItemRead(msgspec.Struct, frozen=True, rename="camel"):
    id: uuid.UUID
    position: int
    medicine_id: uuid.UUID
    strength: str
    dose_amount: str
    dose_form: str
    frequency: str
    schedule: ScheduleRead
    timing: Timing
    start_date: date
    end_date: date
    instructions: str

    @classmethod
    def of(cls, item: Item) -> ItemRead:
        details = item.details
        return cls(
            id=item.id,
            position=item.position,
            medicine_id=details.medicine_id,
            strength=details.strength,
            dose_amount=details.dose_amount,
            dose_form=details.dose_form,
            frequency=details.frequency,
            schedule=ScheduleRead(
                notation=details.notation,
                times=[f"{at:%H:%M}" for at, _ in details.slots],
                amounts=[amount for _, amount in details.slots],
                every_days=details.every_days,
                as_needed=item.as_needed,
            ),
            timing=details.timing,
            start_date=item.starts_on,
            end_date=item.ends_on,
            instructions=details.instructions,
        )


class WarningRead(msgspec.Struct, frozen=True, rename="camel"):
    medicine_id: uuid.UUID
    interacts_with: uuid.UUID
    severity: Severity
    note: str

    @classmethod
    def of(cls, warning: InteractionWarning) -> WarningRead:
        return cls(**msgspec.structs.asdict(warning))


class PrescriptionRead(msgspec.Struct, frozen=True, rename="camel"):
    """``source``: ``manual`` (a doctor wrote it here) or ``scan`` (confirmed from a scanned
    paper); a patient's own scanned prescription has no ``doctorId``, only the prescriber's
    name as printed (``prescriberAsPrinted``, also kept when a doctor confirmed a scan)."""

    id: uuid.UUID
    patient_id: uuid.UUID
    doctor_id: uuid.UUID | None
    status: PrescriptionStatus
    starts_on: date
    ends_on: date
    items: list[ItemRead]
    created_at: datetime
    updated_at: datetime
    activated_at: datetime | None
    source: PrescriptionSource
    prescriber_as_printed: str | None

    @classmethod
    def of(cls, prescription: Prescription) -> PrescriptionRead:
        return cls(
            id=prescription.id,
            patient_id=prescription.patient_id,
            doctor_id=prescription.doctor_id,
            status=prescription.status,
            starts_on=prescription.starts_on,
            ends_on=prescription.ends_on,
            items=[ItemRead.of(item) for item in prescription.items],
            created_at=prescription.created_at,
            updated_at=prescription.updated_at,
            activated_at=prescription.activated_at,
            source=prescription.source,
            prescriber_as_printed=prescription.prescriber_as_printed,
        )


class PrescriptionWritten(PrescriptionRead, frozen=True, rename="camel"):
    """The prescription, with the interactions its medicines have with each other and with
    those of the patient's active prescriptions (reported, not refused)."""

    warnings: list[WarningRead]

    @classmethod
    def written(cls, prescribed: writing.Prescribed) -> PrescriptionWritten:
        read = PrescriptionRead.of(prescribed.prescription)
        return cls(
            **msgspec.structs.asdict(read),
            warnings=[WarningRead.of(warning) for warning in prescribed.warnings],
        )


class PrescriptionList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[PrescriptionRead]
    next_cursor: str | None


class EventRead(msgspec.Struct, frozen=True, rename="camel"):
    action: str
    actor_id: str
    from_status: PrescriptionStatus | None
    to_status: PrescriptionStatus
    changed_fields: list[str]
    at: datetime

    @classmethod
    def of(cls, event: PrescriptionEvent) -> EventRead:
        return cls(
            action=event.action,
            actor_id=event.actor_id,
            from_status=event.from_status,
            to_status=event.to_status,
            changed_fields=list(event.changed_fields),
            at=event.at,
        )


class History(msgspec.Struct, frozen=True, rename="camel"):
    events: list[EventRead]


PrescriptionId = FromPath[uuid.UUID]
PatientFilter = Annotated[
    uuid.UUID | None,
    QueryParameter(name="patientId", description="whose prescriptions; a patient's own by default"),
]


class PrescriptionsController(Controller):
    path = "/prescriptions"
    tags = ["prescriptions"]

    @post(
        "/",
        operation_id="createPrescription",
        summary="A connected doctor writes a prescription (a draft); interactions are reported",
        status_code=201,
        responses=api_responses(400, 403, 404, 413, 422),
        opt={"policy": "prescription.create"},
    )
    async def create_prescription(
        self,
        data: JSONBody[PrescriptionCreate],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> PrescriptionWritten:
        prescribed = await cases.run(
            writing.create_prescription,
            access,
            audit_context,
            data.patient_id,
            [item.input() for item in data.items],
        )
        return PrescriptionWritten.written(prescribed)

    @post(
        "/batch",
        operation_id="prescribeBatch",
        summary="A doctor prescribes the same items to many of their patients: 202 and a job "
        "whose result lists each patient's outcome as it goes",
        status_code=202,
        responses=api_responses(400, 403, 409, 413, 422),
        opt={"policy": "prescription.batch"},
    )
    async def prescribe_batch(
        self,
        data: JSONBody[BatchCreate],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
        idempotency_key: IdempotencyKey,
    ) -> Response[JobAccepted]:
        submission = await cases.run(
            batch.submit_batch,
            access,
            audit_context,
            data.patient_ids,
            [item.input() for item in data.items],
            data.activate,
            idempotency_key,
        )
        return accepted(submission)

    @get(
        "/",
        operation_id="listPrescriptions",
        summary="A patient's prescriptions, newest first (the patient: their own by default; "
        "a connected doctor names patientId)",
        responses=api_responses(400, 403, 404, 422),
        opt={"policy": "prescription.list"},
    )
    async def list_prescriptions(
        self,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
        patient_id: PatientFilter = None,
        status: Annotated[PrescriptionStatus | None, QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        cursor: Cursor = None,
    ) -> PrescriptionList:
        found, next_cursor = await cases.run(
            reading.list_prescriptions, access, audit_context, patient_id, status, limit, cursor
        )
        return PrescriptionList(
            items=[PrescriptionRead.of(item) for item in found], next_cursor=next_cursor
        )

    @get(
        "/{prescription_id:uuid}",
        operation_id="getPrescription",
        summary="One prescription (the patient, a connected doctor)",
        responses=api_responses(400, 403, 404),
        opt={"policy": "prescription.read"},
    )
    async def get_prescription(
        self,
        prescription_id: PrescriptionId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> PrescriptionRead:
        found = await cases.run(reading.get_prescription, access, audit_context, prescription_id)
        return PrescriptionRead.of(found)

    @get(
        "/{prescription_id:uuid}/history",
        operation_id="prescriptionHistory",
        summary="Every change of a prescription, oldest first",
        responses=api_responses(400, 403, 404),
        opt={"policy": "prescription.read"},
    )
    async def prescription_history(
        self,
        prescription_id: PrescriptionId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> History:
        events = await cases.run(
            reading.prescription_history, access, audit_context, prescription_id
        )
        return History(events=[EventRead.of(event) for event in events])

    @patch(
        "/{prescription_id:uuid}",
        operation_id="editPrescription",
        summary=(
            "Its writer (the prescribing doctor; the patient for their own scanned paper) "
            "replaces a draft's items"
        ),
        responses=api_responses(400, 403, 404, 409, 413, 422),
        opt={"policy": "prescription.write"},
    )
    async def edit_prescription(
        self,
        prescription_id: PrescriptionId,
        data: JSONBody[PrescriptionEdit],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> PrescriptionWritten:
        prescribed = await cases.run(
            writing.edit_prescription,
            access,
            audit_context,
            prescription_id,
            [item.input() for item in data.items],
        )
        return PrescriptionWritten.written(prescribed)

    @post(
        "/{prescription_id:uuid}/activate",
        operation_id="activatePrescription",
        summary="Its writer activates a draft: doses are scheduled, the patient told",
        status_code=200,
        responses=api_responses(400, 403, 404, 409),
        opt={"policy": "prescription.write"},
    )
    async def activate_prescription(
        self,
        prescription_id: PrescriptionId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> PrescriptionWritten:
        prescribed = await cases.run(
            lifecycle.activate_prescription, access, audit_context, prescription_id
        )
        return PrescriptionWritten.written(prescribed)

    async def _end(
        self,
        prescription_id: uuid.UUID,
        transition: str,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> PrescriptionRead:
        ended = await cases.run(
            lifecycle.end_prescription, access, audit_context, prescription_id, transition
        )
        return PrescriptionRead.of(ended)

    @post(
        "/{prescription_id:uuid}/complete",
        operation_id="completePrescription",
        summary="Its writer completes an active prescription; doses to come cancelled",
        status_code=200,
        responses=api_responses(400, 403, 404, 409),
        opt={"policy": "prescription.write"},
    )
    async def complete_prescription(
        self,
        prescription_id: PrescriptionId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> PrescriptionRead:
        return await self._end(prescription_id, "complete", access, audit_context, cases)

    @post(
        "/{prescription_id:uuid}/cancel",
        operation_id="cancelPrescription",
        summary="Its writer cancels a draft or active prescription",
        status_code=200,
        responses=api_responses(400, 403, 404, 409),
        opt={"policy": "prescription.write"},
    )
    async def cancel_prescription(
        self,
        prescription_id: PrescriptionId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> PrescriptionRead:
        return await self._end(prescription_id, "cancel", access, audit_context, cases)
