"""A patient's vital signs: recorded by the patient or a connected doctor, read by them.

Who may call what is the ``vital.*`` policies' business: anyone else gets the 404 of
a missing patient. A value no living person shows is a 422 naming the field. Every
read is audited, like every reading recorded.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from api.audit_context import AuditContextDep
from api.params import Cursor, Limit, moment, moment_parameter
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import UseCases
from domain.vitals import reading as reading_cases
from domain.vitals import recording
from domain.vitals.model import Measurement, Reading, ReadingFilter, Recorder, VitalType


class ReadingWrite(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """One measurement, tagged by ``type``: ``blood_pressure`` (systolic, diastolic: mmHg),
    ``heart_rate`` (bpm), ``temperature`` (celsius), ``blood_sugar`` (value, unit ``mg/dL`` or
    ``mmol/L``, context ``fasting``, ``random`` or ``post_meal``), ``spo2`` (percent),
    ``weight`` (kg), ``height`` (cm)."""

    reading: Measurement
    measured_at: datetime


class ReadingRead(msgspec.Struct, frozen=True, rename="camel"):
    id: uuid.UUID
    patient_id: uuid.UUID
    type: VitalType
    reading: Measurement
    measured_at: datetime
    recorded_by: uuid.UUID | None
    recorder: Recorder
    created_at: datetime

    @classmethod
    def of(cls, reading: Reading) -> ReadingRead:
        return cls(
            id=reading.id,
            patient_id=reading.patient_id,
            type=reading.type,
            reading=reading.measurement,
            measured_at=reading.measured_at,
            recorded_by=reading.recorded_by,
            recorder=reading.recorder,
            created_at=reading.created_at,
        )


class ReadingList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[ReadingRead]
    next_cursor: str | None


class LatestReadings(msgspec.Struct, frozen=True, rename="camel"):
    items: list[ReadingRead]


PatientId = FromPath[uuid.UUID]


class VitalsController(Controller):
    path = "/patients/{patient_id:uuid}/vitals"
    tags = ["vitals"]

    @post(
        "/",
        operation_id="recordVital",
        summary="The patient or a connected doctor records a reading; an impossible value: 422",
        status_code=201,
        responses=api_responses(400, 403, 404, 413, 422),
        opt={"policy": "vital.record"},
    )
    async def record_vital(
        self,
        patient_id: PatientId,
        data: JSONBody[ReadingWrite],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> ReadingRead:
        reading = await cases.run(
            recording.record_reading,
            access,
            audit_context,
            patient_id,
            data.reading,
            data.measured_at,
        )
        return ReadingRead.of(reading)

    @get(
        "/",
        operation_id="listVitals",
        summary="A patient's readings, newest measured first, by type and period; audited",
        responses=api_responses(400, 403, 404, 422),
        opt={"policy": "vital.list"},
    )
    async def list_vitals(
        self,
        patient_id: PatientId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
        type: Annotated[VitalType | None, QueryParameter()] = None,
        since: Annotated[
            str | None, moment_parameter("since", "measured at or after (RFC 3339)")
        ] = None,
        until: Annotated[
            str | None, moment_parameter("until", "measured before (RFC 3339)")
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> ReadingList:
        query = ReadingFilter(
            type=type,
            since=moment(since, "since"),
            until=moment(until, "until"),
            limit=limit,
            cursor=cursor,
        )
        page = await cases.run(
            reading_cases.list_readings, access, audit_context, patient_id, query
        )
        return ReadingList(
            items=[ReadingRead.of(item) for item in page.items], next_cursor=page.next_cursor
        )

    @get(
        "/latest",
        operation_id="latestVitals",
        summary="The newest reading of each type a patient has; audited",
        responses=api_responses(400, 403, 404),
        opt={"policy": "vital.list"},
    )
    async def latest_vitals(
        self,
        patient_id: PatientId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> LatestReadings:
        latest = await cases.run(reading_cases.latest_readings, access, audit_context, patient_id)
        return LatestReadings(items=[ReadingRead.of(item) for item in latest])
