"""The consultation's pure rules: who may take which move from where, and refund shares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.consultations.model import (
    ConsultationStatus,
    Side,
    check_transition,
    meeting_link,
    new_room,
    refund_share,
)
from domain.errors import InvalidTransition

S = ConsultationStatus
NOW = datetime(2031, 3, 9, 9, 0, tzinfo=UTC)
CUTOFF = timedelta(hours=24)


@pytest.mark.parametrize(
    ("status", "transition", "by", "target"),
    [
        (S.HELD, "confirm", Side.SYSTEM, S.CONFIRMED),
        (S.RELEASED, "confirm", Side.SYSTEM, S.CONFIRMED),
        (S.HELD, "release", Side.SYSTEM, S.RELEASED),
        (S.CONFIRMED, "start", Side.DOCTOR, S.IN_PROGRESS),
        (S.IN_PROGRESS, "complete", Side.DOCTOR, S.COMPLETED),
        (S.HELD, "cancel", Side.PATIENT, S.CANCELLED),
        (S.CONFIRMED, "cancel", Side.DOCTOR, S.CANCELLED),
        (S.CONFIRMED, "no_show", Side.DOCTOR, S.NO_SHOW),
    ],
)
def test_allowed_moves(status, transition, by, target) -> None:
    assert check_transition(status, transition, by) is target


@pytest.mark.parametrize(
    ("status", "transition", "by"),
    [
        (S.CONFIRMED, "start", Side.PATIENT),  # the wrong side
        (S.HELD, "start", Side.DOCTOR),  # not paid yet
        (S.COMPLETED, "cancel", Side.PATIENT),
        (S.CANCELLED, "confirm", Side.SYSTEM),  # a late payment for a cancelled one: refunded
        (S.CONFIRMED, "release", Side.SYSTEM),
        (S.IN_PROGRESS, "no_show", Side.DOCTOR),
        (S.HELD, "confirm", Side.PATIENT),
    ],
)
def test_refused_moves(status, transition, by) -> None:
    with pytest.raises(InvalidTransition):
        check_transition(status, transition, by)


def test_refund_shares() -> None:
    far, near = NOW + timedelta(hours=48), NOW + timedelta(hours=3)
    assert refund_share(2500, Side.PATIENT, far, NOW, CUTOFF, 50) == 2500
    assert refund_share(2500, Side.PATIENT, NOW + CUTOFF, NOW, CUTOFF, 50) == 2500  # at the cutoff
    assert refund_share(2500, Side.PATIENT, near, NOW, CUTOFF, 50) == 1250
    assert refund_share(2501, Side.PATIENT, near, NOW, CUTOFF, 50) == 1250  # down to a cent
    assert refund_share(2500, Side.DOCTOR, near, NOW, CUTOFF, 50) == 2500
    assert refund_share(2500, Side.PATIENT, near, NOW, CUTOFF, 150) == 2500  # at most all of it
    assert isinstance(refund_share(10_000, Side.PATIENT, near, NOW, CUTOFF, 33), int)


def test_rooms_are_unguessable_and_under_the_base_url() -> None:
    rooms = {new_room() for _ in range(1000)}
    assert len(rooms) == 1000 and all(len(room) >= 32 for room in rooms)
    assert meeting_link("https://meet.example.org/", "abc") == "https://meet.example.org/abc"
