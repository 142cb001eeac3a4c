"""Recording a reading: the patient themself, or a doctor actively connected to them.

The reading, its audit event (field names, never values) and the alerts it raises
(domain/alerts/readings.py) commit together or not at all; the alerts' notices and
e-mails go out after the commit. A reading measured more than ``ALERT_WINDOW`` before
it is recorded (a logbook typed in later) is stored but raises nothing: an alert is
about now.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from domain.alerts.raising import Raised, deliver
from domain.alerts.readings import alerts_for_reading
from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.errors import NotFound
from domain.jobs.ports import MessageSender
from domain.notifications.ports import AddressValidator, EmailRenderer, LiveChannel
from domain.patients.access import authorize_patient
from domain.policies import Access, Relation
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory
from domain.vitals.model import Measurement, Reading, Recorder, new_reading, quantities
from domain.vitals.ports import UnitOfWork

ALERT_WINDOW = timedelta(hours=24)


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
    renderer: EmailRenderer,
    addresses: AddressValidator,
    settings: Settings,
    live: LiveChannel,
    sender: MessageSender,
) -> Reading:
    """Store a checked reading for ``patient_id``; an impossible value is a ValidationFailed."""
    now = clock.now()
    raised: list[Raised] = []
    async with uow_factory() as uow:
        granted = await authorize_patient(uow, access, patient_id)
        recorder = Recorder.PATIENT if granted is Relation.SELF else Recorder.DOCTOR
        caller = access.user_uuid
        if caller is None:  # unreachable: SELF and CONNECTED_DOCTOR both name an account
            raise NotFound("patient not found")
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
        if now - measured_at <= ALERT_WINDOW:
            raised = await alerts_for_reading(
                uow,
                audit=audit,
                patient_id=patient_id,
                vital=reading.type.value,
                quantities=quantities(measurement),
                at=measured_at,
                renderer=renderer,
                addresses=addresses,
                settings=settings,
            )
    for each in raised:
        await deliver(each, live=live, sender=sender)
    return reading
