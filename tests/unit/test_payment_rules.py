"""A payment's pure rules: its transitions, when a paid transaction completes it, refunds,
and the poller's backoff."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from domain.errors import InvalidTransition, ValidationFailed
from domain.payments.model import (
    PaidTransaction,
    Payment,
    PaymentStatus,
    Review,
    check_transition,
    judge,
    next_check,
    refund_target,
)
from domain.payments.money import Currency

NOW = datetime(2031, 3, 9, 9, 0, tzinfo=UTC)
S = PaymentStatus


def payment(**changes) -> Payment:
    fields = dict(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        purpose="subscription",
        reference="basic-monthly",
        currency=Currency.USD,
        amount_minor=500,
        status=S.PENDING,
        khqr="000201",
        md5="0" * 32,
        expires_at=NOW + timedelta(minutes=15),
        created_at=NOW,
        updated_at=NOW,
    )
    return msgspec.convert({**fields, **changes}, Payment, from_attributes=True)


def paid(**changes) -> PaidTransaction:
    fields = dict(md5="0" * 32, hash="h1", amount_minor=500, currency=Currency.USD, paid_at=NOW)
    return PaidTransaction(**{**fields, **changes})


@pytest.mark.parametrize(
    "status, transition, target",
    [
        (S.PENDING, "complete", S.COMPLETED),
        (S.EXPIRED, "complete", S.COMPLETED),
        (S.PENDING, "fail", S.FAILED),
        (S.PENDING, "expire", S.EXPIRED),
        (S.COMPLETED, "request_refund", S.REFUND_PENDING),
        (S.REFUNDED, "request_refund", S.REFUND_PENDING),
        (S.REFUND_PENDING, "approve_refund", S.REFUNDED),
    ],
)
def test_the_lifecycle_allows(status, transition, target) -> None:
    assert check_transition(status, transition) is target


@pytest.mark.parametrize(
    "status, transition",
    [
        (S.COMPLETED, "complete"),
        (S.FAILED, "complete"),
        (S.EXPIRED, "expire"),
        (S.PENDING, "request_refund"),
        (S.COMPLETED, "approve_refund"),
    ],
)
def test_the_lifecycle_refuses(status, transition) -> None:
    with pytest.raises(InvalidTransition):
        check_transition(status, transition)


def test_only_the_exact_amount_and_currency_in_time_completes() -> None:
    assert judge(payment(), paid()) is None
    assert judge(payment(), paid(amount_minor=499)) is Review.AMOUNT_MISMATCH
    assert judge(payment(), paid(currency=Currency.KHR)) is Review.AMOUNT_MISMATCH
    late = paid(paid_at=NOW + timedelta(minutes=16))
    assert judge(payment(), late) is Review.PAID_AFTER_EXPIRY
    assert judge(payment(status=S.EXPIRED), paid()) is None  # paid in time, reported late


def test_a_refund_is_at_most_what_is_left() -> None:
    done = payment(status=S.COMPLETED, refunded_minor=300)
    assert refund_target(done, 200) is S.REFUND_PENDING
    for too_much in (0, 201, -1):
        with pytest.raises(ValidationFailed):
            refund_target(done, too_much)


def test_the_poller_backs_off_to_a_minute() -> None:
    waits = [next_check(NOW, checks) - NOW for checks in range(8)]
    assert [w.total_seconds() for w in waits] == [5, 10, 20, 40, 60, 60, 60, 60]
