"""A subscription's pure rules: its status over time, reminders, renewal, pro rata, ``may``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from domain.errors import ValidationFailed
from domain.subscriptions.model import (
    Entitlement,
    Plan,
    Subscription,
    SubscriptionStatus,
    due_reminder,
    may,
    prorated_upgrade,
    renewed,
    status_at,
)

START = datetime(2031, 3, 1, tzinfo=UTC)
END = START + timedelta(days=30)
BASIC = Plan(
    code="basic",
    name="Basic",
    period_days=30,
    entitlements={Entitlement.CONSULTATIONS_PER_MONTH: 2},
)
A = SubscriptionStatus


def subscription(**changes) -> Subscription:
    fields = dict(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        plan_code="basic",
        status=A.ACTIVE,
        period_start=START,
        period_end=END,
        created_at=START,
        updated_at=START,
    )
    return Subscription(**{**fields, **changes})


@pytest.mark.parametrize(
    "at, cancelled, expected",
    [
        (END - timedelta(seconds=1), False, A.ACTIVE),
        (END, False, A.GRACE),
        (END + timedelta(days=3), False, A.EXPIRED),
        (END, True, A.CANCELLED),
    ],
)
def test_status_over_time(at, cancelled, expected) -> None:
    assert status_at(subscription(cancel_at_period_end=cancelled), at) is expected


def test_a_reminder_is_due_once_per_period_three_days_before_its_end() -> None:
    assert not due_reminder(subscription(), END - timedelta(days=4))
    assert due_reminder(subscription(), END - timedelta(days=3))
    assert not due_reminder(subscription(reminded_for=END), END - timedelta(days=1))
    assert not due_reminder(subscription(cancel_at_period_end=True), END - timedelta(days=1))


def test_a_renewal_adds_a_period_from_the_end_or_from_now_once_lapsed() -> None:
    assert renewed(subscription(), BASIC, END - timedelta(days=2)).period_end == END + timedelta(
        days=30
    )
    late = END + timedelta(days=2)
    assert renewed(subscription(status=A.GRACE), BASIC, late).period_end == late + timedelta(
        days=30
    )


def test_an_upgrade_costs_the_difference_for_what_is_left_rounded_up() -> None:
    halfway = START + timedelta(days=15)
    assert prorated_upgrade(500, 1500, subscription(), halfway) == 500
    assert prorated_upgrade(500, 1500, subscription(), START + timedelta(days=29, hours=23)) == 2
    with pytest.raises(ValidationFailed):
        prorated_upgrade(1500, 500, subscription(), halfway)


def test_may_answers_from_the_plan_and_the_status_now() -> None:
    live = subscription()
    action = Entitlement.CONSULTATIONS_PER_MONTH
    assert may(live, BASIC, action, 1, START)
    assert not may(live, BASIC, action, 2, START)
    assert not may(live, BASIC, Entitlement.OCR_SCANS_PER_MONTH, 0, START)  # not in the plan
    assert may(live, BASIC, action, 0, END + timedelta(days=1))  # grace
    assert not may(live, BASIC, action, 0, END + timedelta(days=3))
    assert not may(None, None, action, 0, START)
    assert not may(msgspec.structs.replace(live, status=A.CANCELLED), BASIC, action, 0, START)
