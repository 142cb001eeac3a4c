"""The plans: anyone signed in reads them; admins define one (its prices are the price list's)."""

from __future__ import annotations

from domain.auditing import AuditContext, AuditEntry
from domain.policies import Access
from domain.subscriptions.model import Plan
from domain.subscriptions.ports import UnitOfWork
from domain.transactions import UnitOfWorkFactory


async def list_plans(
    access: Access, audit: AuditContext, *, uow_factory: UnitOfWorkFactory[UnitOfWork]
) -> list[Plan]:
    access.authorize(())
    async with uow_factory(autocommit=True) as uow:
        return await uow.plans.all()


async def set_plan(
    access: Access, audit: AuditContext, plan: Plan, *, uow_factory: UnitOfWorkFactory[UnitOfWork]
) -> Plan:
    access.authorize(())
    async with uow_factory() as uow:
        await uow.plans.set(plan)
        await uow.audit.record(
            audit,
            AuditEntry(
                action="plan.set",
                resource_type="plan",
                resource_id=plan.code,
                changed_fields=("name", "period_days", "entitlements"),
            ),
        )
    return plan
