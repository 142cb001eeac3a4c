"""A scan's reading, as the patient or a connected doctor reviews it: what was read and the
draft prescription made of it, each field with its confidence and whether it needs review.

Who may: the ``scan.read`` policy, applied to the scan's patient (someone else's scan is a
404, like a missing one); every read is on the audit trail as ``scan.reading``.

No reading yet is a 404 whose code says why: ``reading_pending`` (its job has not finished,
or the OCR provider has not answered yet), ``ocr_provider_timeout`` (the provider never
answered), ``ocr_provider_failed`` (it said it could not read the scan) or the code the
reading failed with (``ocr_provider_refused``, ``ocr_unavailable``).
"""

from __future__ import annotations

import uuid

from domain.auditing import AuditContext, AuditEntry
from domain.errors import NotFound
from domain.patients.access import authorize_patient_file
from domain.policies import Access
from domain.scans.awaiting import ProviderStatus
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
    async with uow_factory(autocommit=True) as uow:
        scan = await uow.files[SCANS_TABLE].get(scan_id)
        await authorize_patient_file(uow, access, scan.patient_id if scan else None, "scan")
        reading = await uow.scan_readings.get(scan_id)
        sent = await uow.scan_provider_requests.of_scan(scan_id) if reading is None else None
        entry = AuditEntry(action="scan.reading", resource_type="scan", resource_id=str(scan_id))
        await uow.audit.record(audit, entry)
    if reading is not None:
        return reading
    if sent is None:
        raise NotFound("the scan has not been read yet: follow its reading job")
    if sent.status is ProviderStatus.AWAITING:
        raise NotFound("the OCR provider has not answered yet", code="reading_pending")
    if sent.status is ProviderStatus.TIMED_OUT:
        raise NotFound(
            "the OCR provider did not answer in time: upload the scan again",
            code="ocr_provider_timeout",
        )
    raise NotFound(
        "the OCR provider could not read the scan", code=sent.reason or "ocr_provider_failed"
    )
