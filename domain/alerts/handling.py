"""What the patient and their doctors do with an alert: read it, acknowledge it, resolve it.

Each is one transaction that loads the alert, applies the route's policy to its
patient (anyone else gets the 404 of a missing alert), takes the step and
records it on the audit trail.
"""

from __future__ import annotations

import uuid

from domain.alerts.model import Alert, AlertView, check_transition
from domain.alerts.ports import UnitOfWork
from domain.alerts.raising import alert_entry
from domain.auditing import AuditContext
from domain.errors import Conflict, NotFound
from domain.patients.access import authorize_patient
from domain.policies import Access
from domain.transactions import UnitOfWorkFactory


async def authorized_alert(
    uow: UnitOfWork, access: Access, alert_id: uuid.UUID, *, lock: bool = False
) -> Alert:
    """The alert if the route's policy lets the caller at its patient; else NotFound."""
    alert = await uow.alerts.get(alert_id, lock=lock)
    if alert is None:
        access.authorize(frozenset())  # the role rule first: a 403 says nothing about the id
        raise NotFound("alert not found")
    await authorize_patient(uow, access, alert.patient_id, exists=True)
    return alert


def _caller(access: Access) -> uuid.UUID:
    caller = access.user_uuid
    if caller is None:  # unreachable: only an account stands in a relation to a patient
        raise NotFound("alert not found")
    return caller


async def read_alert(
    access: Access,
    audit: AuditContext,
    alert_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> AlertView:
    async with uow_factory(autocommit=True) as uow:
        alert = await authorized_alert(uow, access, alert_id)
        read_at = await uow.alerts.read_at(alert.id, _caller(access))
        await uow.audit.record(audit, alert_entry("alert.view", alert.id))
    return AlertView(alert=alert, read_at=read_at)


async def mark_alert_read(
    access: Access,
    audit: AuditContext,
    alert_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> AlertView:
    """The caller has read the alert (each reader for themself; a second read changes nothing)."""
    async with uow_factory() as uow:
        alert = await authorized_alert(uow, access, alert_id)
        read_at = await uow.alerts.mark_read(alert.id, _caller(access))
        await uow.audit.record(audit, alert_entry("alert.read", alert.id, "read_at"))
    return AlertView(alert=alert, read_at=read_at)


async def move_alert(
    access: Access,
    audit: AuditContext,
    alert_id: uuid.UUID,
    transition: str,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> AlertView:
    """``acknowledge`` (open -> acknowledged) or ``resolve`` (open or acknowledged -> resolved);
    a step the alert's status does not allow is a Conflict."""
    async with uow_factory() as uow:
        alert = await authorized_alert(uow, access, alert_id, lock=True)
        target = check_transition(alert, transition)
        caller = _caller(access)
        sources = frozenset({alert.status})
        moved = await uow.alerts.move(alert.id, sources, target, by=caller)
        if moved is None:  # the row is locked: only a bug gets here
            raise Conflict("the alert changed meanwhile; try again")
        fields = ("status", f"{target.value}_by", f"{target.value}_at")
        await uow.audit.record(audit, alert_entry(f"alert.{transition}", alert.id, *fields))
        read_at = await uow.alerts.read_at(alert.id, caller)
    return AlertView(alert=moved, read_at=read_at)
