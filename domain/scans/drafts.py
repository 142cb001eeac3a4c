"""A scan's reading, as the patient or a connected doctor reviews it: what was read and the
draft prescription made of it, each field with its confidence and whether it needs review.

Who may: the ``scan.read`` policy, applied to the scan's patient (someone else's scan is a
404, like a missing one); every read is on the audit trail as ``scan.reading``.
"""

from __future__ import annotations

import uuid

from domain.auditing import AuditContext, AuditEntry
from domain.errors import NotFound
from domain.patients.access import authorize_patient_file
from domain.policies import Access
from domain.scans.model import ScanReading
from domain.scans.ports import UnitOfWork
from domain.transactions import UnitOfWorkFactory

SCANS_TABLE = "scans"


async def scan_reading(
    access: Access,
    audit: AuditContext,
    scan_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> ScanReading:
    """The scan's reading; NotFound while it has not been read (its job says how it went)."""
    async with uow_factory() as uow:
        scan = await uow.files[SCANS_TABLE].get(scan_id)
        await authorize_patient_file(uow, access, scan.patient_id if scan else None, "scan")
        reading = await uow.scan_readings.get(scan_id)
        entry = AuditEntry(action="scan.reading", resource_type="scan", resource_id=str(scan_id))
        await uow.audit.record(audit, entry)
    if reading is None:
        raise NotFound("the scan has not been read yet: follow its reading job")
    return reading
