"""Subscribing, renewing, changing plan and cancelling.

Subscribing is paying: ``POST /payments`` for a plan; when that payment completes, its
activation (``activate_subscription``, registered for the ``subscription`` purpose) starts
the subscription, or renews it by a period, or (a pro-rated upgrade's payment) moves it to
the dearer plan for the rest of its period.
"""

from __future__ import annotations

import uuid

import msgspec

from domain.auditing import SYSTEM, AuditContext, AuditEntry
from domain.clock import Clock
from domain.errors import Conflict, NotFound, ValidationFailed
from domain.payments.create import open_payment
from domain.payments.model import Payment, Purpose
from domain.payments.money import Currency
from domain.policies import Access
from domain.settings import Settings
from domain.subscriptions.model import (
    Entitlement,
    Plan,
    Subscription,
    SubscriptionStatus,
    may,
    period,
    prorated_upgrade,
    renewed,
    status_at,
)
from domain.subscriptions.ports import UnitOfWork
from domain.transactions import UnitOfWorkFactory

UPGRADE_PREFIX = "upgrade:"  # a payment's reference for a pro-rated move to a dearer plan


def _entry(action: str, subscription: Subscription, *fields: str) -> AuditEntry:
    return AuditEntry(
        action=action,
        resource_type="subscription",
        resource_id=str(subscription.id),
        changed_fields=fields,
    )


async def _plan(uow: UnitOfWork, code: str) -> Plan:
    plan = await uow.plans.get(code)
    if plan is None:
        raise NotFound("plan not found")
    return plan


async def activate_subscription(
    payment: Payment, *, uow_factory: UnitOfWorkFactory[UnitOfWork], clock: Clock
) -> str:
    """What a completed subscription payment activates (the payments' activation job)."""
    now = clock.now()
    upgrade = payment.reference.startswith(UPGRADE_PREFIX)
    code = payment.reference.removeprefix(UPGRADE_PREFIX)
    async with uow_factory() as uow:
        plan = await _plan(uow, code)
        current = await uow.subscriptions.live_of(payment.user_id, lock=True)
        if current is not None and status_at(current, now) not in (
            SubscriptionStatus.ACTIVE,
            SubscriptionStatus.GRACE,
        ):
            current = None  # lapsed: a new one starts
        if current is None:
            started = Subscription(
                id=uuid.uuid4(),
                user_id=payment.user_id,
                plan_code=plan.code,
                status=SubscriptionStatus.ACTIVE,
                period_start=now,
                period_end=now + period(plan),
                created_at=now,
                updated_at=now,
            )
            await uow.subscriptions.add(started)
            await uow.audit.record(SYSTEM, _entry("subscription.start", started, "status"))
            return "started"
        if upgrade:
            moved = msgspec.structs.replace(current, plan_code=plan.code, updated_at=now)
            await uow.subscriptions.save(moved)
            await uow.audit.record(SYSTEM, _entry("subscription.upgrade", moved, "plan_code"))
            return "upgraded"
        extended = renewed(current, plan, now)  # on the plan paid for (a downgrade's, if chosen)
        await uow.subscriptions.save(extended)
        await uow.audit.record(SYSTEM, _entry("subscription.renew", extended, "period_end"))
        return "renewed"


async def my_subscription(
    access: Access, *, uow_factory: UnitOfWorkFactory[UnitOfWork], clock: Clock
) -> tuple[Subscription, Plan]:
    access.authorize(())
    async with uow_factory(autocommit=True) as uow:
        current = await uow.subscriptions.live_of(access.user_uuid or uuid.UUID(int=0))
        if current is None:
            raise NotFound("no subscription")
        plan = await _plan(uow, current.plan_code)
    return msgspec.structs.replace(current, status=status_at(current, clock.now())), plan


async def cancel_at_period_end(
    access: Access,
    audit: AuditContext,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> Subscription:
    access.authorize(())
    async with uow_factory() as uow:
        current = await uow.subscriptions.live_of(access.user_uuid or uuid.UUID(int=0), lock=True)
        if current is None:
            raise NotFound("no subscription")
        cancelled = msgspec.structs.replace(
            current, cancel_at_period_end=True, updated_at=clock.now()
        )
        await uow.subscriptions.save(cancelled)
        await uow.audit.record(audit, _entry("subscription.cancel", cancelled, "cancel_at_end"))
    return cancelled


async def change_plan(
    access: Access,
    audit: AuditContext,
    plan_code: str,
    currency: Currency,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
) -> Payment | Subscription:
    """A dearer plan: a payment of the difference for the rest of the period (pro rata); the
    plan changes when it is paid. A cheaper one: taken at the next renewal, nothing to pay."""
    access.authorize(())
    payer = access.user_uuid or uuid.UUID(int=0)
    now = clock.now()
    async with uow_factory() as uow:
        current = await uow.subscriptions.live_of(payer, lock=True)
        if current is None:
            raise NotFound("no subscription")
        if current.plan_code == plan_code:
            raise Conflict("this is already your plan", code="same_plan")
        await _plan(uow, plan_code)
        old = await uow.prices.price(current.plan_code, currency)
        new = await uow.prices.price(plan_code, currency)
        if old is None or new is None:
            raise ValidationFailed(
                f"no price for these plans in {currency.value}", field="currency"
            )
        if new.amount_minor <= old.amount_minor:
            later = msgspec.structs.replace(current, next_plan_code=plan_code, updated_at=now)
            await uow.subscriptions.save(later)
            await uow.audit.record(audit, _entry("subscription.downgrade", later, "next_plan"))
            return later
        amount = prorated_upgrade(old.amount_minor, new.amount_minor, current, now)
        return await open_payment(
            uow,
            audit,
            payer,
            Purpose.SUBSCRIPTION,
            UPGRADE_PREFIX + plan_code,
            currency,
            amount,
            clock=clock,
            settings=settings,
        )


async def entitled(
    user_id: uuid.UUID,
    action: Entitlement,
    used: int,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> bool:
    """``may`` for a user, as the limited features ask it (with their own count of use)."""
    async with uow_factory(autocommit=True) as uow:
        current = await uow.subscriptions.live_of(user_id)
        plan = await uow.plans.get(current.plan_code) if current else None
    return may(current, plan, action, used, clock.now())
