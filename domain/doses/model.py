"""A dose and its rules: when doses fall in the patient's own time zone, and how a dose moves.

A dose is due at a local time of day (08:00) on a local date; its instant (``due_at``,
UTC) follows from the patient's time zone on that date, so a dose stays at 08:00 local
across a daylight-saving change. A local time that does not exist that day (inside a
spring-forward gap) is taken at the same offset as just before the gap, i.e. later by
the gap; a time that happens twice (autumn) is its first occurrence.

``scheduled`` → ``taken`` (``late`` when taken more than DOSE_LATE_AFTER_MINUTES after it
was due) | ``skipped`` (with a reason) | ``missed`` (nothing said within
DOSE_GRACE_MINUTES) | ``cancelled`` (its prescription ended first). A patient may
correct a taken, skipped or missed dose later: that is an ``edited`` event.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import msgspec

from domain.errors import InvalidTransition, ValidationFailed

MAX_REASON = 500
# A taken time may run this far ahead of our clock (the phone's clock drifts) ...
CLOCK_SKEW = timedelta(minutes=5)
# ... and be this far before the dose was due (taken early, before the reminder).
EARLIEST_BEFORE_DUE = timedelta(hours=12)


class DoseStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    TAKEN = "taken"
    SKIPPED = "skipped"
    MISSED = "missed"
    CANCELLED = "cancelled"


class DoseEventKind(enum.StrEnum):
    TAKEN = "taken"
    SKIPPED = "skipped"
    MISSED = "missed"
    EDITED = "edited"  # a taken, skipped or missed dose marked again
    CANCELLED = "cancelled"


# What a patient may mark, from which statuses.
MARKABLE = frozenset(
    {DoseStatus.SCHEDULED, DoseStatus.TAKEN, DoseStatus.SKIPPED, DoseStatus.MISSED}
)


class Dose(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    patient_id: uuid.UUID
    prescription_id: uuid.UUID
    item_id: uuid.UUID
    due_at: datetime
    local_date: date
    amount: str  # a multiple of the item's dose amount: "1", "1/2"
    status: DoseStatus
    late: bool = False
    taken_at: datetime | None = None
    reason: str | None = None  # why it was skipped (PHI, sealed at rest)
    updated_at: datetime


class DosePlan(msgspec.Struct, frozen=True):
    """When an item's doses fall: local times with their amounts, every ``every_days`` days
    from ``starts_on`` through ``ends_on``."""

    slots: tuple[tuple[time, Fraction], ...]
    every_days: int
    starts_on: date
    ends_on: date


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ValidationFailed for anything else."""
    if not name or len(name) > 64 or name not in _zone_names():
        raise ValidationFailed(
            "timeZone is not an IANA time zone (e.g. Asia/Phnom_Penh)", field="timeZone"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed("timeZone is not an IANA time zone", field="timeZone") from None


_ZONES: set[str] = set()


def _zone_names() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


def local_today(now: datetime, time_zone: str) -> date:
    return now.astimezone(ZoneInfo(time_zone)).date()


def instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of local ``day`` at ``at`` in ``tz`` (see the module's note on gaps)."""
    # fold=0: a repeated time's first occurrence; a missing one at the offset before the gap
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def due_times(
    plan: DosePlan, tz: ZoneInfo, first_day: date, last_day: date
) -> Iterator[tuple[date, datetime, Fraction]]:
    """(local date, due instant, amount) of every dose of ``plan`` on ``first_day`` through
    ``last_day`` (both clipped to the plan), in order."""
    day = max(first_day, plan.starts_on)
    last = min(last_day, plan.ends_on)
    offset = (day - plan.starts_on).days % plan.every_days
    if offset:
        day += timedelta(days=plan.every_days - offset)
    while day <= last:
        for at, amount in sorted(plan.slots):
            yield day, instant(day, at, tz), amount
        day += timedelta(days=plan.every_days)


def amount_text(amount: Fraction) -> str:
    return str(amount)


def is_late(due_at: datetime, taken_at: datetime, late_after: timedelta) -> bool:
    return taken_at - due_at > late_after


def check_taken_at(dose: Dose, taken_at: datetime, now: datetime) -> None:
    if taken_at.tzinfo is None:
        raise ValidationFailed("takenAt needs a time zone offset", field="takenAt")
    if taken_at > now + CLOCK_SKEW:
        raise ValidationFailed("takenAt is in the future", field="takenAt")
    if taken_at < dose.due_at - EARLIEST_BEFORE_DUE:
        raise ValidationFailed(
            "takenAt is more than 12 hours before the dose was due", field="takenAt"
        )


def check_markable(dose: Dose, kind: DoseEventKind) -> DoseEventKind:
    """The event marking ``dose`` makes: ``kind``, or ``edited`` when it was already settled."""
    if dose.status not in MARKABLE:
        raise InvalidTransition(f"cannot mark a dose that is {dose.status.value}")
    return kind if dose.status is DoseStatus.SCHEDULED else DoseEventKind.EDITED


def skip_reason(reason: str) -> str:
    cleaned = " ".join(reason.split())
    if not cleaned:
        raise ValidationFailed("a skipped dose needs a reason", field="reason")
    if len(cleaned) > MAX_REASON:
        raise ValidationFailed(f"reason is at most {MAX_REASON} characters", field="reason")
    return cleaned
