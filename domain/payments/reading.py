"""Reading payments: one's own (an admin: anyone's), its QR image, its receipt, and the list
with totals per currency. A payment that is not the caller's answers 404, like a missing one.
"""

from __future__ import annotations

import uuid

import msgspec

from domain.auditing import AuditContext, AuditEntry
from domain.errors import Conflict, NotFound, PermanentFailure, TransientFailure
from domain.payments.khqr import bill_number
from domain.payments.model import Payment, PaymentFilter, PaymentPage, PaymentStatus
from domain.payments.ports import PaymentNetwork, QrRenderer, UnitOfWork
from domain.policies import Access, owner_relations
from domain.transactions import UnitOfWorkFactory

PAID = frozenset({PaymentStatus.COMPLETED, PaymentStatus.REFUND_PENDING, PaymentStatus.REFUNDED})


class Receipt(msgspec.Struct, frozen=True, kw_only=True):
    payment: Payment
    receipt_number: str  # the KHQR bill number: what the payer's banking app shows


def as_owner(access: Access, payment: Payment | None) -> Payment:
    access.authorize(owner_relations(access.principal, str(payment.user_id) if payment else None))
    if payment is None:  # unreachable: nobody owns a missing payment
        raise NotFound("payment not found")
    return payment


async def get_payment(
    access: Access,
    audit: AuditContext,
    payment_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> Payment:
    async with uow_factory(autocommit=True) as uow:
        return as_owner(access, await uow.payments.get(payment_id))


async def payment_qr(
    access: Access,
    audit: AuditContext,
    payment_id: uuid.UUID,
    image: str,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    qr: QrRenderer,
) -> bytes:
    """The payment's KHQR as a PNG or SVG (``image``), while it can still be paid."""
    async with uow_factory(autocommit=True) as uow:
        payment = as_owner(access, await uow.payments.get(payment_id))
    if payment.status is not PaymentStatus.PENDING:
        raise Conflict(f"the payment is {payment.status}: there is nothing left to pay")
    return qr.svg(payment.khqr) if image == "svg" else qr.png(payment.khqr)


async def get_receipt(
    access: Access,
    audit: AuditContext,
    payment_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> Receipt:
    async with uow_factory(autocommit=True) as uow:
        payment = as_owner(access, await uow.payments.get(payment_id))
    if payment.status not in PAID:
        raise Conflict("a receipt exists once the payment is completed", code="not_paid")
    return Receipt(payment=payment, receipt_number=bill_number(payment.id))


async def list_payments(
    access: Access,
    audit: AuditContext,
    query: PaymentFilter,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> PaymentPage:
    """The caller's payments (an admin's: everyone's, filtered by status and date), newest
    first, with the total per currency of everything the filter matches."""
    if not access.sees_all():
        query = msgspec.structs.replace(query, user_id=access.user_uuid or uuid.UUID(int=0))
    async with uow_factory(autocommit=True) as uow:
        page = await uow.payments.page(query)
        if access.sees_all():
            await uow.audit.record(
                audit, AuditEntry(action="payment.list", resource_type="payment")
            )
    return page


async def payment_deeplink(
    access: Access,
    audit: AuditContext,
    payment_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    network: PaymentNetwork | None,
) -> str:
    """A link that opens the payer's Bakong app on the code (made by Bakong's API, asked now)."""
    async with uow_factory(autocommit=True) as uow:
        payment = as_owner(access, await uow.payments.get(payment_id))
    if payment.status is not PaymentStatus.PENDING:
        raise Conflict(f"the payment is {payment.status}: there is nothing left to pay")
    try:
        link = await network.deeplink(payment.khqr) if network is not None else None
    except PermanentFailure:  # our token refused: the operator's to mend, Bakong's to answer
        raise TransientFailure("Bakong refused to make a deeplink", code="bakong_refused") from None
    if link is None:
        raise Conflict("deeplinks are not configured here", code="no_deeplinks")
    return link
