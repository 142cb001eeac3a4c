"""A doctor's dashboard: their connected patients, riskiest first, a page at a time."""

from __future__ import annotations

from datetime import timedelta

from domain.adherence.ports import AtRiskPage, UnitOfWork
from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.policies import Access, user_uuid
from domain.transactions import UnitOfWorkFactory

DASHBOARD_DAYS = 30


async def patients_at_risk(
    access: Access,
    audit_context: AuditContext,
    cursor: str | None,
    limit: int,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> AtRiskPage:
    access.authorize(frozenset())  # the policy admits doctors only; no target to relate
    doctor_id = user_uuid(access.principal)
    assert doctor_id is not None  # a doctor's own account
    since = (clock.now() - timedelta(days=DASHBOARD_DAYS)).date()
    async with uow_factory(autocommit=True) as uow:
        page = await uow.adherence.at_risk(doctor_id, since, cursor, limit)
        await uow.audit.record(
            audit_context,
            AuditEntry(action="dashboard.read", resource_type="doctor", resource_id=str(doctor_id)),
        )
    return page
