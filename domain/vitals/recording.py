"""Recording a reading: the patient themself, or a doctor actively connected to them.

The reading, its audit event (field names, never values) and whatever it sets off
commit together or not at all.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.patients.access import authorize_patient
from domain.policies import Access, Relation
from domain.transactions import UnitOfWorkFactory
from domain.vitals.model import Measurement, Reading, Recorder, new_reading
from domain.vitals.ports import UnitOfWork


def reading_entry(action: str, reading_id: uuid.UUID | None, *fields: str) -> AuditEntry:
    return AuditEntry(
        action=action,
        resource_type="vital_reading",
        resource_id=str(reading_id) if reading_id else None,
        changed_fields=fields,
    )


async def record_reading(
    access: Access,
    audit: AuditContext,
    patient_id: uuid.UUID,
    measurement: Measurement,
    measured_at: datetime,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> Reading:
    """Store a checked reading for ``patient_id``; an impossible value is a ValidationFailed."""
    now = clock.now()
    async with uow_factory() as uow:
        granted = await authorize_patient(uow, access, patient_id)
        recorder = Recorder.PATIENT if granted is Relation.SELF else Recorder.DOCTOR
        caller = access.user_uuid
        assert caller is not None  # SELF and CONNECTED_DOCTOR both name an account
        reading = new_reading(
            patient_id, measurement, measured_at, recorded_by=caller, recorder=recorder, now=now
        )
        await uow.readings.add(reading)
        await uow.audit.record(
            audit,
            reading_entry(
                "vital.record", reading.id, "type", "measurement", "measured_at", "patient_id"
            ),
        )
    return reading
