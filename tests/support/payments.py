"""A payment stored directly (a real KHQR code, sealed like any), for tests that need one in a
given state without going through Bakong."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from domain.adapters.bootstrap import Services
from domain.payments import khqr
from domain.payments.model import Payment, PaymentStatus, Purpose
from domain.payments.money import Currency


async def add_payment(
    services: Services,
    user_id: uuid.UUID,
    status: PaymentStatus = PaymentStatus.PENDING,
    amount_minor: int = 500,
) -> Payment:
    payment = new_payment(user_id, status, amount_minor)
    async with services.uow() as uow:
        await uow.payments.add(payment)
    return payment


def new_payment(
    user_id: uuid.UUID, status: PaymentStatus = PaymentStatus.PENDING, amount_minor: int = 500
) -> Payment:
    now = datetime.now(UTC)
    payment_id = uuid.uuid4()
    code = khqr.encode(
        khqr.KhqrRequest(
            account_id="healthplat@aclb",
            merchant_name="Healthplat",
            merchant_city="Phnom Penh",
            currency=Currency.USD,
            amount_minor=amount_minor,
            bill_number=khqr.bill_number(payment_id),
            created_ms=int(now.timestamp() * 1000),
            expires_ms=int((now + timedelta(minutes=15)).timestamp() * 1000),
        )
    )
    done = status is not PaymentStatus.PENDING
    return Payment(
        id=payment_id,
        user_id=user_id,
        purpose=Purpose.SUBSCRIPTION,
        reference="basic-monthly",
        currency=Currency.USD,
        amount_minor=amount_minor,
        status=status,
        khqr=code,
        md5=khqr.md5_of(code),
        expires_at=now + timedelta(minutes=15),
        created_at=now,
        updated_at=now,
        completed_at=now if done else None,
        transaction_hash=uuid.uuid4().hex if done else None,
        paid_minor=amount_minor if done else None,
        paid_currency=Currency.USD if done else None,
        refund_requested_minor=100 if status is PaymentStatus.REFUND_PENDING else 0,
        next_check_at=now if status is PaymentStatus.PENDING else None,
    )
