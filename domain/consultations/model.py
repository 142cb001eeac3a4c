"""A consultation, its lifecycle, and the pure rules of holding, cancelling and refunding.

```
HELD -> CONFIRMED          (its payment completed; or at once when the fee is zero)
HELD -> RELEASED           (the hold expired or its payment failed: the time is free again)
RELEASED -> CONFIRMED      (a late payment, when the time is still free: re-booked)
CONFIRMED -> IN_PROGRESS -> COMPLETED
HELD | CONFIRMED -> CANCELLED
CONFIRMED -> NO_SHOW
```

HELD and CONFIRMED consultations block ``[starts_at, blocked_until)`` of their doctor's
time; the database's exclusion constraint refuses a second one there, whoever asks.
"""

from __future__ import annotations

import enum
import secrets
import uuid
from datetime import datetime, timedelta

import msgspec

from domain.errors import InvalidTransition


class ConsultationStatus(enum.StrEnum):
    HELD = "held"
    CONFIRMED = "confirmed"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    RELEASED = "released"


S = ConsultationStatus
BLOCKING = frozenset({S.HELD, S.CONFIRMED})
# Nothing more happens to these (a released hold's late payment is refunded once its time is
# long past): after CONSULTATION_HISTORY_AFTER_DAYS they move to the history.
FINISHED = frozenset({S.COMPLETED, S.CANCELLED, S.NO_SHOW, S.RELEASED})


class Side(enum.StrEnum):
    PATIENT = "patient"
    DOCTOR = "doctor"
    SYSTEM = "system"


# transition -> (from, to, who may take it)
TRANSITIONS: dict[
    str, tuple[frozenset[ConsultationStatus], ConsultationStatus, frozenset[Side]]
] = {
    "confirm": (frozenset({S.HELD, S.RELEASED}), S.CONFIRMED, frozenset({Side.SYSTEM})),
    "release": (frozenset({S.HELD}), S.RELEASED, frozenset({Side.SYSTEM})),
    "start": (frozenset({S.CONFIRMED}), S.IN_PROGRESS, frozenset({Side.DOCTOR})),
    "complete": (frozenset({S.IN_PROGRESS}), S.COMPLETED, frozenset({Side.DOCTOR})),
    "cancel": (
        frozenset({S.HELD, S.CONFIRMED}),
        S.CANCELLED,
        frozenset({Side.PATIENT, Side.DOCTOR}),
    ),
    "no_show": (frozenset({S.CONFIRMED}), S.NO_SHOW, frozenset({Side.DOCTOR})),
}


def check_transition(status: ConsultationStatus, transition: str, by: Side) -> ConsultationStatus:
    sources, target, sides = TRANSITIONS[transition]
    if by not in sides:
        raise InvalidTransition(f"the {by} cannot {transition.replace('_', ' ')} a consultation")
    if status not in sources:
        raise InvalidTransition(
            f"cannot {transition.replace('_', ' ')} a consultation that is {status}"
        )
    return target


class Consultation(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    patient_id: uuid.UUID
    doctor_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    blocked_until: datetime  # the end plus the doctor's buffer
    status: ConsultationStatus
    room: str  # the meeting link: MEETING_BASE_URL and an unguessable room
    created_at: datetime
    updated_at: datetime
    hold_expires_at: datetime | None = None
    payment_id: uuid.UUID | None = None

    def side_of(self, user_id: uuid.UUID | None) -> Side | None:
        if user_id == self.patient_id:
            return Side.PATIENT
        if user_id == self.doctor_id:
            return Side.DOCTOR
        return None

    @property
    def parties(self) -> tuple[uuid.UUID, uuid.UUID]:
        return (self.patient_id, self.doctor_id)


def new_room() -> str:
    """192 random bits: a room nobody finds by guessing."""
    return secrets.token_urlsafe(24)


def meeting_link(base_url: str, room: str) -> str:
    return f"{base_url.rstrip('/')}/{room}"


def refund_share(
    amount_minor: int,
    by: Side,
    starts_at: datetime,
    now: datetime,
    cutoff: timedelta,
    late_percent: int,
) -> int:
    """What goes back of a paid fee when a confirmed consultation is cancelled: everything
    when the doctor cancels or the patient does before the cutoff; ``late_percent`` of it
    (rounded down to a minor unit) when the patient cancels later."""
    if by is Side.DOCTOR or starts_at - now >= cutoff:
        return amount_minor
    return amount_minor * min(max(late_percent, 0), 100) // 100


class Period(enum.StrEnum):
    UPCOMING = "upcoming"  # not yet ended: soonest first
    PAST = "past"  # ended: latest first


class ConsultationFilter(msgspec.Struct, frozen=True, kw_only=True):
    """A listing's query. ``party_id``: only consultations this user is a side of (a patient's
    or a doctor's own list; None for an admin's)."""

    party_id: uuid.UUID | None = None
    period: Period = Period.UPCOMING
    status: ConsultationStatus | None = None
    patient_id: uuid.UUID | None = None
    doctor_id: uuid.UUID | None = None
    start: datetime | None = None  # starting at or after
    end: datetime | None = None  # starting before
    limit: int = 50
    cursor: str | None = None


class ConsultationPage(msgspec.Struct, frozen=True):
    items: list[Consultation]
    next_cursor: str | None
