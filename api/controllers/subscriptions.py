"""Subscriptions: the plans, the caller's own subscription, cancelling at period end and
changing plan. Subscribing (and renewing) is paying for a plan: ``POST /payments``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, post, put
from litestar.params import FromPath, JSONBody

from api.audit_context import AuditContextDep
from api.controllers.payments import PLAN_CODE, PaymentRead
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import UseCases
from domain.payments.model import Payment
from domain.payments.money import Currency
from domain.subscriptions import plans, service
from domain.subscriptions.model import Entitlement, Plan, Subscription, SubscriptionStatus

COUNT = msgspec.Meta(ge=0, le=1_000_000)


class PlanBody(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    period_days: Annotated[int, msgspec.Meta(ge=1, le=366)]
    entitlements: dict[Entitlement, Annotated[int, COUNT]]


class PlanRead(msgspec.Struct, frozen=True, rename="camel"):
    code: str
    name: str
    period_days: int
    entitlements: dict[Entitlement, int]


class PlanList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[PlanRead]


class SubscriptionRead(msgspec.Struct, frozen=True, rename="camel"):
    id: uuid.UUID
    plan_id: str
    status: SubscriptionStatus
    period_start: datetime
    period_end: datetime
    cancel_at_period_end: bool
    next_plan_id: str | None
    entitlements: dict[Entitlement, int] | None = None

    @classmethod
    def of(cls, subscription: Subscription, plan: Plan | None = None) -> SubscriptionRead:
        return cls(
            id=subscription.id,
            plan_id=subscription.plan_code,
            status=subscription.status,
            period_start=subscription.period_start,
            period_end=subscription.period_end,
            cancel_at_period_end=subscription.cancel_at_period_end,
            next_plan_id=subscription.next_plan_code,
            entitlements=plan.entitlements if plan else None,
        )


class PlanChange(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    plan_id: Annotated[str, PLAN_CODE]
    currency: Currency = Currency.USD


class PlanChangeRead(msgspec.Struct, frozen=True, rename="camel"):
    """An upgrade: the payment of the difference (pro rata); a downgrade: the subscription,
    with ``nextPlanId`` taken at the next renewal."""

    payment: PaymentRead | None
    subscription: SubscriptionRead | None


def _plan(plan: Plan) -> PlanRead:
    return PlanRead(**msgspec.structs.asdict(plan))


class SubscriptionsController(Controller):
    path = "/subscriptions"
    tags = ["subscriptions"]

    @get(
        "/plans",
        operation_id="listPlans",
        summary="The plans and their entitlements (prices: the payments' price list)",
        responses=api_responses(),
        opt={"policy": "plan.list"},
    )
    async def list_plans(
        self, access: AccessDep, audit_context: AuditContextDep, cases: UseCases
    ) -> PlanList:
        return PlanList(
            items=[_plan(p) for p in await cases.run(plans.list_plans, access, audit_context)]
        )

    @put(
        "/plans/{code:str}",
        operation_id="setPlan",
        summary="Define a plan: name, period, entitlements (admins)",
        status_code=200,
        responses=api_responses(400, 403, 413, 422),
        opt={"policy": "plan.set"},
    )
    async def set_plan(
        self,
        code: FromPath[Annotated[str, PLAN_CODE]],
        data: JSONBody[PlanBody],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> PlanRead:
        plan = Plan(code=code, **msgspec.structs.asdict(data))
        return _plan(await cases.run(plans.set_plan, access, audit_context, plan))

    @get(
        "/me",
        operation_id="mySubscription",
        summary="Your live subscription and its entitlements (404: none)",
        responses=api_responses(404),
        opt={"policy": "subscription.self"},
    )
    async def mine(self, access: AccessDep, cases: UseCases) -> SubscriptionRead:
        subscription, plan = await cases.run(service.my_subscription, access)
        return SubscriptionRead.of(subscription, plan)

    @post(
        "/me/cancel",
        operation_id="cancelSubscription",
        summary="End your subscription when its period ends (no reminders, no grace)",
        status_code=200,
        responses=api_responses(404),
        opt={"policy": "subscription.self"},
    )
    async def cancel(
        self, access: AccessDep, audit_context: AuditContextDep, cases: UseCases
    ) -> SubscriptionRead:
        return SubscriptionRead.of(
            await cases.run(service.cancel_at_period_end, access, audit_context)
        )

    @post(
        "/me/change",
        operation_id="changePlan",
        summary="Change plan: a dearer one now (pay the difference pro rata), a cheaper at renewal",
        status_code=200,
        responses=api_responses(400, 404, 409, 413, 422),
        opt={"policy": "subscription.self"},
    )
    async def change(
        self,
        data: JSONBody[PlanChange],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> PlanChangeRead:
        changed = await cases.run(
            service.change_plan, access, audit_context, data.plan_id, data.currency
        )
        if isinstance(changed, Payment):
            return PlanChangeRead(payment=PaymentRead.of(changed), subscription=None)
        return PlanChangeRead(payment=None, subscription=SubscriptionRead.of(changed))
