"""Refunds: the payer (or an admin) asks for all or part of a completed payment back; an admin
approves it once the money has gone back (KHQR cannot push money: the refund is made in the
bank's own tools and recorded here against the original payment).
"""

from __future__ import annotations

import uuid

import msgspec

from domain.auditing import AuditContext
from domain.clock import Clock
from domain.errors import Conflict, NotFound
from domain.payments.create import payment_entry
from domain.payments.model import Payment, check_transition, refund_target
from domain.payments.ports import UnitOfWork
from domain.payments.reading import as_owner
from domain.policies import Access
from domain.transactions import UnitOfWorkFactory


async def _saved(uow: UnitOfWork, changed: Payment, before: Payment) -> Payment:
    if not await uow.payments.save(changed, before.status):
        raise Conflict("the payment changed meanwhile; try again")
    return changed


async def request_refund(
    access: Access,
    audit: AuditContext,
    payment_id: uuid.UUID,
    amount_minor: int,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> Payment:
    async with uow_factory() as uow:
        payment = as_owner(access, await uow.payments.get(payment_id, lock=True))
        target = refund_target(payment, amount_minor)
        asked = msgspec.structs.replace(
            payment, status=target, refund_requested_minor=amount_minor, updated_at=clock.now()
        )
        saved = await _saved(uow, asked, payment)
        await uow.audit.record(
            audit, payment_entry("payment.request_refund", saved, "status", "refund_requested")
        )
    return saved


async def approve_refund(
    access: Access,
    audit: AuditContext,
    payment_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> Payment:
    access.authorize(())  # admins only: the role rule
    async with uow_factory() as uow:
        payment = await uow.payments.get(payment_id, lock=True)
        if payment is None:
            raise NotFound("payment not found")
        approved = msgspec.structs.replace(
            payment,
            status=check_transition(payment.status, "approve_refund"),
            refunded_minor=payment.refunded_minor + payment.refund_requested_minor,
            refund_requested_minor=0,
            updated_at=clock.now(),
        )
        saved = await _saved(uow, approved, payment)
        await uow.audit.record(
            audit, payment_entry("payment.approve_refund", saved, "status", "refunded")
        )
    return saved
