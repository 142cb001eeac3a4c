"""Confirming a scan's draft: the items as the patient or a connected doctor reviewed and
edited them become a prescription of the scan's patient (``source: scan``), in one
transaction with the draft marked confirmed (at most once: a second confirmation is a 409).

Who prescribed it depends on who confirms. A connected doctor's confirmation is their
prescription (``doctor_id``: them), like one they wrote. A patient's confirmation is their
own record of a paper prescription: no doctor of ours wrote it, so it has no ``doctor_id``,
and the prescriber is the name printed on the paper, sealed at rest; the patient owns it and
activates it themselves (doses are scheduled as for any prescription), since it records what
a prescriber outside the platform already decided. Either way the printed prescriber is kept:
as the confirmation gives it (a blank one: none legible), else as the scan was read.

The items are checked exactly as a prescription's (catalogue entry and strength, frequency
notation, dose, dates: 422 naming the item); the prescription is a draft its owner then
activates.
"""

from __future__ import annotations

import uuid

from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.errors import Conflict, Forbidden, NotFound
from domain.patients.access import authorize_patient
from domain.policies import Access, Relation
from domain.prescriptions.access import record_change
from domain.prescriptions.model import (
    MAX_PRESCRIBER_AS_PRINTED,
    ItemInput,
    PrescriptionSource,
    new_prescription,
    prescriber_as_printed,
)
from domain.prescriptions.writing import Prescribed, checked, interaction_warnings
from domain.scans.drafts import SCANS_TABLE
from domain.transactions import UnitOfWorkFactory


async def confirm_scan(
    access: Access,
    audit: AuditContext,
    scan_id: uuid.UUID,
    items: list[ItemInput],
    prescriber: str | None = None,
    *,
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
) -> Prescribed:
    """``prescriber``: the name printed on the paper as the confirmer reads it; None keeps
    the one the scan's reading found (if any), "" says there is none legible."""
    async with uow_factory() as uow:
        scan = await uow.files[SCANS_TABLE].get(scan_id)
        if scan is None:
            access.authorize(frozenset())
            raise NotFound("scan not found")
        relation = await authorize_patient(uow, access, scan.patient_id, exists=True)
        if access.user_uuid is None:  # an operator's token: nobody to confirm as
            raise Forbidden("this action needs a patient's or a doctor's account")
        reading = await uow.scan_readings.get(scan_id)
        if reading is None:
            raise Conflict("the scan has not been read yet", code="scan_not_read")
        if prescriber is None:  # as read: cut to fit rather than refuse what nobody typed
            prescriber = (reading.draft.prescriber.value or "")[:MAX_PRESCRIBER_AS_PRINTED]
        printed = prescriber_as_printed(prescriber)
        doctor_id = access.user_uuid if relation is Relation.CONNECTED_DOCTOR else None
        now = clock.now()
        prescription = new_prescription(
            scan.patient_id,
            doctor_id,
            await checked(uow, scan.patient_id, items, clock),
            now,
            source=PrescriptionSource.SCAN,
            printed_prescriber=printed,
        )
        await uow.prescriptions.add(prescription)
        if not await uow.scan_readings.confirm(scan_id, prescription.id, now):
            raise Conflict("the scan's draft is already confirmed", code="scan_confirmed")
        await record_change(uow, audit, prescription, "create", None, ("status", "items"), now)
        entry = AuditEntry(action="scan.confirm", resource_type="scan", resource_id=str(scan_id))
        await uow.audit.record(audit, entry)
        warnings = await interaction_warnings(uow, prescription)
    return Prescribed(prescription, warnings)
