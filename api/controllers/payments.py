"""Payments through Bakong KHQR: ask to pay, show the code, follow it, receipts, refunds, and
the price list.

Amounts are integers of the currency's minor unit (``amountMinor``: USD cents, KHR
riel) and come from the price list or the doctor's fee, never from the client. A
payment that is not the caller's answers 404, like a missing one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Controller, Response, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from api.audit_context import AuditContextDep
from api.params import Cursor, moment, moment_parameter
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import UseCases
from domain.payments import create, prices, reading, refunds
from domain.payments.model import (
    Payment,
    PaymentFilter,
    PaymentStatus,
    Price,
    Purpose,
    Review,
)
from domain.payments.money import MAX_MINOR, Currency

PaymentId = FromPath[uuid.UUID]
MINOR = msgspec.Meta(ge=1, lt=MAX_MINOR)
PLAN_CODE = msgspec.Meta(pattern="^[a-z0-9][a-z0-9-]{0,62}$")
IMAGE_TYPES = {"png": "image/png", "svg": "image/svg+xml"}


class SubscriptionPayment(
    msgspec.Struct,
    frozen=True,
    rename="camel",
    forbid_unknown_fields=True,
    tag_field="purpose",
    tag=Purpose.SUBSCRIPTION.value,
):
    """A plan's period: its price from the price list, in the currency chosen."""

    plan_id: Annotated[str, PLAN_CODE]
    currency: Currency = Currency.USD

    def request(self) -> create.PaymentRequest:
        return create.PaymentRequest(
            purpose=Purpose.SUBSCRIPTION, plan_id=self.plan_id, currency=self.currency
        )


class ConsultationPayment(
    msgspec.Struct,
    frozen=True,
    rename="camel",
    forbid_unknown_fields=True,
    tag_field="purpose",
    tag=Purpose.CONSULTATION.value,
):
    """A doctor's consultation: the fee on the doctor's profile (in its currency)."""

    doctor_id: uuid.UUID
    currency: Currency = Currency.USD

    def request(self) -> create.PaymentRequest:
        return create.PaymentRequest(
            purpose=Purpose.CONSULTATION, doctor_id=self.doctor_id, currency=self.currency
        )


PaymentCreate = SubscriptionPayment | ConsultationPayment


class PaymentRead(msgspec.Struct, frozen=True, rename="camel"):
    id: uuid.UUID
    user_id: uuid.UUID
    purpose: Purpose
    reference: str
    currency: Currency
    amount_minor: int
    status: PaymentStatus
    khqr: str
    md5: str
    expires_at: datetime
    created_at: datetime
    completed_at: datetime | None
    transaction_hash: str | None
    review: Review | None
    refunded_minor: int
    refund_requested_minor: int
    qr_png: str
    qr_svg: str

    @classmethod
    def of(cls, payment: Payment) -> PaymentRead:
        base = f"/api/v1/payments/{payment.id}/qr"
        return cls(
            id=payment.id,
            user_id=payment.user_id,
            purpose=payment.purpose,
            reference=payment.reference,
            currency=payment.currency,
            amount_minor=payment.amount_minor,
            status=payment.status,
            khqr=payment.khqr,
            md5=payment.md5,
            expires_at=payment.expires_at,
            created_at=payment.created_at,
            completed_at=payment.completed_at,
            transaction_hash=payment.transaction_hash,
            review=payment.review,
            refunded_minor=payment.refunded_minor,
            refund_requested_minor=payment.refund_requested_minor,
            qr_png=f"{base}?image=png",
            qr_svg=f"{base}?image=svg",
        )


class PaymentList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[PaymentRead]
    next_cursor: str | None
    totals: dict[str, int]  # minor units per currency, over everything the filter matches


class DeeplinkRead(msgspec.Struct, frozen=True, rename="camel"):
    deeplink: str


class ReceiptRead(msgspec.Struct, frozen=True, rename="camel"):
    receipt_number: str
    payment_id: uuid.UUID
    purpose: Purpose
    reference: str
    currency: Currency
    amount_minor: int
    refunded_minor: int
    paid_at: datetime | None
    transaction_hash: str | None


class RefundRequest(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    amount_minor: Annotated[int, MINOR]


class PriceWrite(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    code: Annotated[str, PLAN_CODE]
    currency: Currency
    amount_minor: Annotated[int, MINOR]
    label: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class PriceRead(msgspec.Struct, frozen=True, rename="camel"):
    code: str
    currency: Currency
    amount_minor: int
    label: str


class PriceList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[PriceRead]


def _price(price: Price) -> PriceRead:
    return PriceRead(**msgspec.structs.asdict(price))


class PaymentsController(Controller):
    path = "/payments"
    tags = ["payments"]

    @post(
        "/",
        operation_id="createPayment",
        summary="Ask to pay for a plan or a consultation: a dynamic KHQR code, its MD5, QR links",
        status_code=201,
        responses=api_responses(400, 403, 404, 409, 413, 422),
        opt={"policy": "payment.create"},
    )
    async def create_payment(
        self,
        data: JSONBody[PaymentCreate],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> PaymentRead:
        payment = await cases.run(create.create_payment, access, audit_context, data.request())
        return PaymentRead.of(payment)

    @get(
        "/",
        operation_id="listPayments",
        summary="Your payments (an admin's: everyone's), newest first, with totals per currency",
        responses=api_responses(400, 422),
        opt={"policy": "payment.list"},
    )
    async def list_payments(
        self,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
        status: Annotated[PaymentStatus | None, QueryParameter()] = None,
        created_from: Annotated[
            str | None, moment_parameter("from", "made at or after, RFC 3339")
        ] = None,
        created_to: Annotated[str | None, moment_parameter("to", "made before, RFC 3339")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
        cursor: Cursor = None,
    ) -> PaymentList:
        query = PaymentFilter(
            status=status,
            created_from=moment(created_from, "from"),
            created_to=moment(created_to, "to"),
            limit=limit,
            cursor=cursor,
        )
        page = await cases.run(reading.list_payments, access, audit_context, query)
        return PaymentList(
            items=[PaymentRead.of(p) for p in page.items],
            next_cursor=page.next_cursor,
            totals=page.totals,
        )

    @get(
        "/prices",
        operation_id="listPrices",
        summary="The price list (minor units per currency)",
        responses=api_responses(),
        opt={"policy": "price.list"},
    )
    async def list_prices(
        self, access: AccessDep, audit_context: AuditContextDep, cases: UseCases
    ) -> PriceList:
        found = await cases.run(prices.list_prices, access, audit_context)
        return PriceList(items=[_price(p) for p in found])

    @put(
        "/prices",
        operation_id="setPrice",
        summary="Set one price of the list, in one currency (admins)",
        status_code=200,
        responses=api_responses(400, 403, 413, 422),
        opt={"policy": "price.set"},
    )
    async def set_price(
        self,
        data: JSONBody[PriceWrite],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> PriceRead:
        price = Price(**msgspec.structs.asdict(data))
        return _price(await cases.run(prices.set_price, access, audit_context, price))

    @get(
        "/{payment_id:uuid}",
        operation_id="getPayment",
        summary="One payment: its status, its code while pending",
        responses=api_responses(400, 404),
        opt={"policy": "payment.read"},
    )
    async def get_payment(
        self,
        payment_id: PaymentId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> PaymentRead:
        payment = await cases.run(reading.get_payment, access, audit_context, payment_id)
        return PaymentRead.of(payment)

    @get(
        "/{payment_id:uuid}/qr",
        operation_id="getPaymentQr",
        summary="The payment's KHQR as a QR image (PNG or SVG) while it is pending",
        responses=api_responses(400, 404, 409),
        opt={"policy": "payment.read"},
        media_type="image/png",
    )
    async def get_qr(
        self,
        payment_id: PaymentId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
        image: Annotated[Literal["png", "svg"], QueryParameter()] = "png",
    ) -> Response[bytes]:
        picture = await cases.run(reading.payment_qr, access, audit_context, payment_id, image)
        return Response(picture, media_type=IMAGE_TYPES[image])

    @get(
        "/{payment_id:uuid}/deeplink",
        operation_id="getPaymentDeeplink",
        summary="A link that opens the payer's Bakong app on the code, while it is pending",
        responses=api_responses(400, 404, 409),
        opt={"policy": "payment.read"},
    )
    async def get_deeplink(
        self,
        payment_id: PaymentId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> DeeplinkRead:
        link = await cases.run(reading.payment_deeplink, access, audit_context, payment_id)
        return DeeplinkRead(deeplink=link)

    @get(
        "/{payment_id:uuid}/receipt",
        operation_id="getPaymentReceipt",
        summary="The receipt of a completed payment",
        responses=api_responses(400, 404, 409),
        opt={"policy": "payment.read"},
    )
    async def get_receipt(
        self,
        payment_id: PaymentId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> ReceiptRead:
        receipt = await cases.run(reading.get_receipt, access, audit_context, payment_id)
        payment = receipt.payment
        return ReceiptRead(
            receipt_number=receipt.receipt_number,
            payment_id=payment.id,
            purpose=payment.purpose,
            reference=payment.reference,
            currency=payment.currency,
            amount_minor=payment.amount_minor,
            refunded_minor=payment.refunded_minor,
            paid_at=payment.completed_at,
            transaction_hash=payment.transaction_hash,
        )

    @post(
        "/{payment_id:uuid}/refund",
        operation_id="requestRefund",
        summary="Ask for all or part of a completed payment back; an admin approves it",
        status_code=200,
        responses=api_responses(400, 403, 404, 409, 413, 422),
        opt={"policy": "payment.refund"},
    )
    async def request_refund(
        self,
        payment_id: PaymentId,
        data: JSONBody[RefundRequest],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> PaymentRead:
        payment = await cases.run(
            refunds.request_refund, access, audit_context, payment_id, data.amount_minor
        )
        return PaymentRead.of(payment)

    @post(
        "/{payment_id:uuid}/refund/approve",
        operation_id="approveRefund",
        summary="Record that the asked-for refund was paid back (admins)",
        status_code=200,
        responses=api_responses(400, 403, 404, 409),
        opt={"policy": "payment.refund_approve"},
    )
    async def approve_refund(
        self,
        payment_id: PaymentId,
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> PaymentRead:
        payment = await cases.run(refunds.approve_refund, access, audit_context, payment_id)
        return PaymentRead.of(payment)
