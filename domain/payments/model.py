"""A payment, its lifecycle, and the pure rules of confirming and refunding one.

```
PENDING -> COMPLETED | FAILED | EXPIRED
EXPIRED -> COMPLETED        (Bakong says it was paid before the code expired)
COMPLETED -> REFUND_PENDING -> REFUNDED    (full or partial, approved by an admin;
REFUNDED -> REFUND_PENDING                  another refund while anything is left)
```

A payment is completed by exactly one transaction of Bakong's, named by its
hash: the callback and the poller may both report it, any number of times,
and only the first report changes anything. A transaction whose amount or
currency is not the payment's, or that was paid after the code expired, is
not a completion: the payment is flagged for an admin (``review``) and the
money is theirs to sort out.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime, timedelta

import msgspec

from domain.errors import InvalidTransition, ValidationFailed
from domain.payments.money import Currency


class Purpose(enum.StrEnum):
    SUBSCRIPTION = "subscription"
    CONSULTATION = "consultation"


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    REFUND_PENDING = "refund_pending"
    REFUNDED = "refunded"


S = PaymentStatus
TRANSITIONS: dict[str, tuple[frozenset[PaymentStatus], PaymentStatus]] = {
    "complete": (frozenset({S.PENDING, S.EXPIRED}), S.COMPLETED),
    "fail": (frozenset({S.PENDING, S.EXPIRED}), S.FAILED),
    "expire": (frozenset({S.PENDING}), S.EXPIRED),
    "request_refund": (frozenset({S.COMPLETED, S.REFUNDED}), S.REFUND_PENDING),
    "approve_refund": (frozenset({S.REFUND_PENDING}), S.REFUNDED),
}


def check_transition(status: PaymentStatus, transition: str) -> PaymentStatus:
    sources, target = TRANSITIONS[transition]
    if status not in sources:
        raise InvalidTransition(f"cannot {transition.replace('_', ' ')} a payment that is {status}")
    return target


class Review(enum.StrEnum):
    """Why a paid transaction did not complete its payment: an admin must look."""

    AMOUNT_MISMATCH = "amount_mismatch"  # amount or currency is not the payment's
    PAID_AFTER_EXPIRY = "paid_after_expiry"


class Payment(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    user_id: uuid.UUID
    purpose: Purpose
    reference: str  # what it pays for: a plan's code, a doctor's or a booking's id
    currency: Currency
    amount_minor: int  # sealed at rest, like everything that says what was paid
    status: PaymentStatus
    khqr: str  # sealed at rest: it carries the amount
    md5: str
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
    transaction_hash: str | None = None
    paid_minor: int | None = None  # what Bakong says was paid (sealed)
    paid_currency: Currency | None = None
    review: Review | None = None
    refunded_minor: int = 0  # sealed
    refund_requested_minor: int = 0  # sealed
    checks: int = 0  # how often the poller asked Bakong about it
    next_check_at: datetime | None = None

    @property
    def refundable_minor(self) -> int:
        return self.amount_minor - self.refunded_minor


class PaidTransaction(msgspec.Struct, frozen=True, kw_only=True):
    """A transaction Bakong reports for a payment's MD5 (by callback or by the API)."""

    md5: str
    hash: str
    amount_minor: int
    currency: Currency
    paid_at: datetime


class Outcome(enum.StrEnum):
    """What a report of a paid transaction did (an operator's label; no amounts)."""

    COMPLETED = "completed"
    ALREADY = "already_recorded"  # this transaction was reported before: nothing changed
    FLAGGED = "flagged_for_review"
    UNKNOWN = "unknown_payment"


def judge(payment: Payment, paid: PaidTransaction) -> Review | None:
    """None when ``paid`` completes ``payment``; else why an admin must look at it."""
    if (paid.amount_minor, paid.currency) != (payment.amount_minor, payment.currency):
        return Review.AMOUNT_MISMATCH
    if paid.paid_at > payment.expires_at:
        return Review.PAID_AFTER_EXPIRY
    return None


def refund_target(payment: Payment, amount_minor: int) -> PaymentStatus:
    target = check_transition(payment.status, "request_refund")
    if not 0 < amount_minor <= payment.refundable_minor:
        raise ValidationFailed(
            "a refund must be positive and at most what is left of the payment",
            field="amountMinor",
        )
    return target


# The poller's backoff while a payment is pending: 5 s, 10 s, 20 s ... at most a minute.
FIRST_CHECK = timedelta(seconds=5)
MAX_CHECK_INTERVAL = timedelta(seconds=60)


def next_check(now: datetime, checks: int) -> datetime:
    return now + min(FIRST_CHECK * (2 ** min(checks, 10)), MAX_CHECK_INTERVAL)


class PaymentFilter(msgspec.Struct, frozen=True, kw_only=True):
    user_id: uuid.UUID | None = None
    status: PaymentStatus | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    limit: int = 50
    cursor: str | None = None


class PaymentPage(msgspec.Struct, frozen=True):
    items: list[Payment]
    next_cursor: str | None
    totals: dict[str, int]  # minor units per currency, over every payment the filter matches


class Price(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the price list: what an item costs in one currency."""

    code: str
    currency: Currency
    amount_minor: int
    label: str
