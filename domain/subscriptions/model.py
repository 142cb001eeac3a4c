"""Plans, a user's subscription, and the pure rules of its time: renewal, grace, pro rata, and
the one answer to "may this user do X now".

KHQR cannot debit anyone, so a subscription is renewed by paying again: reminders go out
``REMIND_BEFORE`` before the period ends; a payment for the same plan extends it by a
period; unpaid, it is in ``grace`` for ``GRACE`` after its end (still entitled), then
``expired``. Cancelled at period end: no reminders, no grace, ``cancelled`` at the end.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime, timedelta

import msgspec

from domain.errors import ValidationFailed

REMIND_BEFORE = timedelta(days=3)
GRACE = timedelta(days=3)
# The plan of everyone without a live subscription: never sold (it has no price), its
# entitlements are what a user gets for nothing (migration 0706 seeds it; admins may set it).
FREE_PLAN = "free"


class Entitlement(enum.StrEnum):
    """What a plan counts; a feature that is limited asks ``may`` with its own usage."""

    CONSULTATIONS_PER_MONTH = "consultationsPerMonth"
    OCR_SCANS_PER_MONTH = "ocrScansPerMonth"
    CONNECTED_DOCTORS = "connectedDoctors"


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    code: str  # also its code in the price list (what it costs, per currency)
    name: str
    period_days: int
    entitlements: dict[Entitlement, int]


class SubscriptionStatus(enum.StrEnum):
    ACTIVE = "active"
    GRACE = "grace"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


LIVE = frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.GRACE})


class Subscription(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    user_id: uuid.UUID
    plan_code: str
    status: SubscriptionStatus
    period_start: datetime
    period_end: datetime
    cancel_at_period_end: bool = False
    next_plan_code: str | None = None  # a downgrade, taken at the next renewal
    reminded_for: datetime | None = None  # the period end a reminder went out for
    created_at: datetime
    updated_at: datetime


def period(plan: Plan) -> timedelta:
    return timedelta(days=plan.period_days)


def status_at(subscription: Subscription, now: datetime) -> SubscriptionStatus:
    """What the subscription is at ``now``, whatever the last job run stored."""
    if subscription.status not in LIVE:
        return subscription.status
    if now < subscription.period_end:
        return SubscriptionStatus.ACTIVE
    if subscription.cancel_at_period_end:
        return SubscriptionStatus.CANCELLED
    if now < subscription.period_end + GRACE:
        return SubscriptionStatus.GRACE
    return SubscriptionStatus.EXPIRED


def due_reminder(subscription: Subscription, now: datetime) -> bool:
    return (
        status_at(subscription, now) in LIVE
        and not subscription.cancel_at_period_end
        and subscription.period_end - REMIND_BEFORE <= now
        and subscription.reminded_for != subscription.period_end
    )


def renewed(subscription: Subscription, plan: Plan, now: datetime) -> Subscription:
    """Paid again for ``plan``: one more period from the end of this one (or from now, once it
    lapsed), on that plan (a downgrade chosen earlier asks to be paid for this way)."""
    start = subscription.period_end if subscription.period_end > now else now
    return msgspec.structs.replace(
        subscription,
        plan_code=plan.code,
        status=SubscriptionStatus.ACTIVE,
        period_start=start,
        period_end=start + period(plan),
        next_plan_code=None,
        cancel_at_period_end=False,
        updated_at=now,
    )


def prorated_upgrade(
    old_price: int, new_price: int, subscription: Subscription, now: datetime
) -> int:
    """What moving to a dearer plan costs now, in minor units: the difference of the prices for
    the share of the period left, rounded up (never a fraction of a cent or riel)."""
    if new_price <= old_price:
        raise ValidationFailed("only a dearer plan is an upgrade", field="planId")
    total = (subscription.period_end - subscription.period_start).total_seconds()
    left = max((subscription.period_end - now).total_seconds(), 0.0)
    numerator = (new_price - old_price) * int(left)
    return max(-(-numerator // max(int(total), 1)), 1)


def may(
    subscription: Subscription | None,
    plan: Plan | None,
    action: Entitlement,
    used: int,
    now: datetime,
) -> bool:
    """THE entitlement check: whether someone whose subscription is ``subscription`` (None:
    none) and who has used ``used`` of ``action`` this period may do it once more now."""
    if subscription is None or plan is None or status_at(subscription, now) not in LIVE:
        return False
    return used < plan.entitlements.get(action, 0)


def allowance(
    subscription: Subscription | None,
    plan: Plan | None,
    free: Plan | None,
    action: Entitlement,
    now: datetime,
) -> int:
    """How much of ``action`` a period allows: the live subscription's plan's, else the free
    plan's (none seeded: nothing)."""
    return entitlement(applicable_plan(subscription, plan, free, now), action)


def entitlement(plan: Plan | None, action: Entitlement) -> int:
    """How much of ``action`` ``plan`` allows a period (no plan: nothing)."""
    return plan.entitlements.get(action, 0) if plan is not None else 0


def applicable_plan(
    subscription: Subscription | None, plan: Plan | None, free: Plan | None, now: datetime
) -> Plan | None:
    """The plan whose entitlements apply now: the live subscription's (``plan`` is its plan),
    else the free plan (None when none is seeded)."""
    if subscription is not None and plan is not None and status_at(subscription, now) in LIVE:
        return plan
    return free
