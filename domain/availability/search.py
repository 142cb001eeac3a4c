"""Free times, computed on demand from calendars and bookings: by doctor or by specialty,
over a range of the doctors' local days, optionally at a time of day on the searcher's clock."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import msgspec

from domain.availability.model import (
    Calendar,
    FreeTime,
    TimeOfDay,
    check_time_zone,
    first_free_times,
    searched_days,
)
from domain.availability.ports import UnitOfWork
from domain.clock import Clock
from domain.errors import ValidationFailed
from domain.policies import Access
from domain.transactions import UnitOfWorkFactory

MAX_RESULTS = 2000
# a search's first day: far enough from date.min and date.max for its arithmetic (days either
# side, MAX_SEARCH_DAYS on), and wider than any calendar anyone keeps
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2999, 12, 31)


class FreeTimeQuery(msgspec.Struct, frozen=True, kw_only=True):
    start: date
    end: date
    doctor_id: uuid.UUID | None = None
    specialty: str | None = None
    time_from: time | None = None
    time_to: time | None = None
    time_zone: str | None = None  # of time_from/time_to; default: each doctor's own
    limit: int = 500
    per_doctor: int | None = None  # at most this many of each doctor (their soonest)


def _time_of_day(query: FreeTimeQuery, calendar: Calendar) -> TimeOfDay | None:
    if query.time_from is None and query.time_to is None:
        return None
    return TimeOfDay(
        start=query.time_from or time.min,
        end=query.time_to or time.max,
        zone=query.time_zone or calendar.time_zone,
    )


def _check(query: FreeTimeQuery) -> None:
    if (query.doctor_id is None) == (query.specialty is None):
        raise ValidationFailed("search by a doctorId or by a specialty", field="doctorId")
    if query.time_zone is not None:
        check_time_zone(query.time_zone)
    if not 1 <= query.limit <= MAX_RESULTS:
        raise ValidationFailed(f"limit is 1 to {MAX_RESULTS}", field="limit")
    if query.per_doctor is not None and not 1 <= query.per_doctor <= MAX_RESULTS:
        raise ValidationFailed(f"perDoctor is 1 to {MAX_RESULTS}", field="perDoctor")
    if not EARLIEST_DAY <= query.start <= LATEST_DAY:
        raise ValidationFailed(f"from is a day from {EARLIEST_DAY} to {LATEST_DAY}", field="from")


async def search_free_times(
    access: Access,
    query: FreeTimeQuery,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> list[FreeTime]:
    """Up to ``limit`` free times, soonest first (at most ``per_doctor`` of each doctor when
    given: a specialty's answer then names many doctors, not the first few's whole days). A
    day is each doctor's local day; a search covers at most MAX_SEARCH_DAYS from its first day
    (a range ending before it starts: none). Each doctor's times are computed only as far as
    they are listed, so a month costs about what a week does when the limit is reached."""
    access.authorize(())
    _check(query)
    query = msgspec.structs.replace(query, end=searched_days(query.start, query.end))
    # bookings are read with a day's margin either side: a local day is at most 26 h off UTC
    lower = datetime.combine(query.start - timedelta(days=2), time.min, tzinfo=UTC)
    upper = datetime.combine(query.end + timedelta(days=2), time.min, tzinfo=UTC)
    async with uow_factory(autocommit=True) as uow:
        if query.doctor_id is not None:
            doctors = [query.doctor_id]
        else:
            doctors = await uow.doctor_finder.with_specialty(query.specialty or "")
        calendars = await uow.calendars.many(doctors, (query.start, query.end))
        busy = await uow.busy_times.busy([c.doctor_id for c in calendars], lower, upper)
    ordered = sorted(calendars, key=lambda c: c.doctor_id)  # equal starts: by doctor
    searches = [(c, busy.get(c.doctor_id, []), _time_of_day(query, c)) for c in ordered]
    now = clock.now()
    return first_free_times(searches, query.start, query.end, now, query.limit, query.per_doctor)
