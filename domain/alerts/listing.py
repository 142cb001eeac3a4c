"""Listing alerts: one patient's (the patient, a connected doctor), or the caller's inbox
(a patient's own; a doctor's, those of the patients actively connected to them now, so a
doctor who is not connected sees none). Each listing is a read of patient data: audited."""

from __future__ import annotations

import uuid

import msgspec

from domain.alerts.model import AlertFilter, AlertPage
from domain.alerts.ports import UnitOfWork
from domain.auditing import AuditContext, AuditEntry
from domain.identity import Role
from domain.patients.access import authorize_patient
from domain.policies import Access
from domain.transactions import UnitOfWorkFactory


async def list_patient_alerts(
    access: Access,
    audit: AuditContext,
    patient_id: uuid.UUID,
    query: AlertFilter,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> AlertPage:
    query = msgspec.structs.replace(
        query, patient_id=patient_id, doctor_id=None, reader=access.user_uuid
    )
    async with uow_factory(autocommit=True) as uow:
        await authorize_patient(uow, access, patient_id)
        page = await uow.alerts.page(query)
        await uow.audit.record(
            audit,
            AuditEntry(action="alert.list", resource_type="patient", resource_id=str(patient_id)),
        )
    return page


async def list_my_alerts(
    access: Access,
    audit: AuditContext,
    query: AlertFilter,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> AlertPage:
    access.authorize(())  # the role rule; the caller is the target
    caller = access.user_uuid
    if caller is None:  # a token that names no account has no alerts
        return AlertPage(items=[], next_cursor=None)
    if access.principal.role is Role.DOCTOR:
        query = msgspec.structs.replace(query, patient_id=None, doctor_id=caller, reader=caller)
    else:
        query = msgspec.structs.replace(query, patient_id=caller, doctor_id=None, reader=caller)
    async with uow_factory(autocommit=True) as uow:
        page = await uow.alerts.page(query)
        await uow.audit.record(audit, AuditEntry(action="alert.inbox", resource_type="alert"))
    return page
