"""Asking to pay: the amount comes from our price list (a plan) or the doctor's profile (a
consultation), never from the client; the answer is a dynamic KHQR code and its MD5.

The booking feature calls ``open_payment`` in its own transaction, for the time it holds.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import msgspec

from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from domain.payments import khqr
from domain.payments.model import Payment, PaymentStatus, Purpose, next_check
from domain.payments.money import Currency
from domain.payments.ports import UnitOfWork
from domain.policies import Access
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory


class PaymentRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What a payment is for: a plan (``plan_id``, a price-list code) or a doctor's consultation."""

    purpose: Purpose
    plan_id: str | None = None
    doctor_id: uuid.UUID | None = None
    currency: Currency = Currency.USD


def payment_entry(action: str, payment: Payment, *fields: str) -> AuditEntry:
    return AuditEntry(
        action=action, resource_type="payment", resource_id=str(payment.id), changed_fields=fields
    )


async def _price(uow: UnitOfWork, request: PaymentRequest) -> tuple[str, int]:
    """(reference, amount in minor units) of what is being paid for."""
    if request.purpose is Purpose.SUBSCRIPTION:
        if request.plan_id is None or request.doctor_id is not None:
            raise ValidationFailed("a subscription payment names a planId only", field="planId")
        price = await uow.prices.price(request.plan_id, request.currency)
        if price is None:
            raise NotFound(f"no price for this plan in {request.currency.value}")
        return price.code, price.amount_minor
    if request.doctor_id is None or request.plan_id is not None:
        raise ValidationFailed("a consultation payment names a doctorId only", field="doctorId")
    fee = await uow.payers.consultation_fee(request.doctor_id)
    if fee is None:
        raise NotFound("doctor not found")
    amount, currency = fee
    if currency is not request.currency:
        raise ValidationFailed(
            f"this doctor's fee is in {currency.value}", field="currency", code="wrong_currency"
        )
    if amount <= 0:
        raise Conflict("this doctor charges nothing for a consultation", code="nothing_to_pay")
    return str(request.doctor_id), amount


async def create_payment(
    access: Access,
    audit: AuditContext,
    request: PaymentRequest,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
) -> Payment:
    access.authorize(())
    payer = access.user_uuid
    if payer is None:
        raise Forbidden("only an account can pay")
    async with uow_factory() as uow:
        reference, amount = await _price(uow, request)
        return await open_payment(
            uow,
            audit,
            payer,
            request.purpose,
            reference,
            request.currency,
            amount,
            clock=clock,
            settings=settings,
        )


async def open_payment(
    uow: UnitOfWork,
    audit: AuditContext,
    payer: uuid.UUID,
    purpose: Purpose,
    reference: str,
    currency: Currency,
    amount_minor: int,
    *,
    clock: Clock,
    settings: Settings,
) -> Payment:
    """A pending payment and its KHQR, in the caller's transaction: for a use case that has
    worked the amount out itself (a plan change, pro rata), never for a client's figure."""
    if settings.bakong_account_id is None:
        raise Conflict("payments are not configured here (BAKONG_ACCOUNT_ID)", code="no_payments")
    now = clock.now()
    payment_id = uuid.uuid4()
    expires_at = now + timedelta(seconds=settings.payment_expiry_seconds)
    code = khqr.encode(
        khqr.KhqrRequest(
            account_id=settings.bakong_account_id,
            merchant_name=settings.bakong_merchant_name,
            merchant_city=settings.bakong_merchant_city,
            currency=currency,
            amount_minor=amount_minor,
            bill_number=khqr.bill_number(payment_id),
            created_ms=int(now.timestamp() * 1000),
            expires_ms=int(expires_at.timestamp() * 1000),
        )
    )
    payment = Payment(
        id=payment_id,
        user_id=payer,
        purpose=purpose,
        reference=reference,
        currency=currency,
        amount_minor=amount_minor,
        status=PaymentStatus.PENDING,
        khqr=code,
        md5=khqr.md5_of(code),
        expires_at=expires_at,
        created_at=now,
        updated_at=now,
        next_check_at=next_check(now, 0),
    )
    await uow.payments.add(payment)
    await uow.audit.record(
        audit, payment_entry("payment.create", payment, "status", "amount", "purpose")
    )
    return payment
