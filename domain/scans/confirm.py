"""Confirming a scan's draft: the items as a connected doctor reviewed and edited them become
a prescription of the scan's patient, prescribed by that doctor, in one transaction with
the draft marked confirmed (at most once: a second confirmation is a 409).

The items are checked exactly as a prescription's (catalogue entry and strength, frequency
notation, dose, dates: 422 naming the item); the prescription is a draft the doctor then
activates, which schedules its doses like any prescription's. Confirming as the patient, a
prescription whose prescriber is only the name printed on the paper, is not built yet:
prescriptions require a doctor's account (the ``scan.confirm`` policy says doctors).
"""

from __future__ import annotations

import uuid

from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.errors import Conflict, Forbidden
from domain.patients.access import authorize_patient_file
from domain.policies import Access
from domain.prescriptions.access import record_change
from domain.prescriptions.model import ItemInput, new_prescription
from domain.prescriptions.writing import Prescribed, checked, interaction_warnings
from domain.scans.drafts import SCANS_TABLE
from domain.transactions import UnitOfWorkFactory


async def confirm_scan(
    access: Access,
    audit: AuditContext,
    scan_id: uuid.UUID,
    items: list[ItemInput],
    *,
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
) -> Prescribed:
    async with uow_factory() as uow:
        scan = await uow.files[SCANS_TABLE].get(scan_id)
        await authorize_patient_file(uow, access, scan.patient_id if scan else None, "scan")
        assert scan is not None  # authorize_patient_file refuses a missing scan
        doctor_id = access.user_uuid
        if doctor_id is None:
            raise Forbidden("this action needs a doctor's account")
        if await uow.scan_readings.get(scan_id) is None:
            raise Conflict("the scan has not been read yet", code="scan_not_read")
        now = clock.now()
        prescription = new_prescription(
            scan.patient_id, doctor_id, await checked(uow, scan.patient_id, items, clock), now
        )
        await uow.prescriptions.add(prescription)
        if not await uow.scan_readings.confirm(scan_id, prescription.id, now):
            raise Conflict("the scan's draft is already confirmed", code="scan_confirmed")
        await record_change(uow, audit, prescription, "create", None, ("status", "items"), now)
        entry = AuditEntry(action="scan.confirm", resource_type="scan", resource_id=str(scan_id))
        await uow.audit.record(audit, entry)
        warnings = await interaction_warnings(uow, prescription)
    return Prescribed(prescription, warnings)
