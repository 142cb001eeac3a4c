"""How many scans a patient has left this month: the figure the quota admits uploads by.

Shown to the patient and to their connected doctors (the ``scan.list`` policy: whoever may
see the patient's scans), before an upload rather than as its refusal. The count is the
quota's own (``usage_of``), read without the quota's lock. Each read is audited.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.patients.access import authorize_patient, named_or_own
from domain.patients.ports import UnitOfWork as PatientsUnitOfWork
from domain.policies import Access
from domain.scans.quota import QuotaUnitOfWork, ScanAllowance, usage_of
from domain.transactions import UnitOfWorkFactory


class UnitOfWork(PatientsUnitOfWork, QuotaUnitOfWork, Protocol):
    pass


async def scan_allowance(
    access: Access,
    audit: AuditContext,
    patient_id: uuid.UUID | None,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> ScanAllowance:
    """``patient_id``'s scans this month (a patient's own when they name nobody)."""
    patient_id = named_or_own(access, patient_id)
    async with uow_factory(autocommit=True) as uow:
        await authorize_patient(uow, access, patient_id)
        shown = await usage_of(uow, patient_id, clock.now())
        await uow.audit.record(
            audit,
            AuditEntry(
                action="scan.allowance", resource_type="patient", resource_id=str(patient_id)
            ),
        )
    return shown
