"""The lazy free-time computation against a brute-force enumeration, on random calendars.

``brute_force`` is the rule written the plainest way: every step of every window of every
day, each checked against the day's off hours, every booking, ``now`` and the time of day,
then one stable sort. ``free_times`` / ``iter_free_times`` must give the same list, in the
same order, in every zone (daylight saving, zones that move at midnight, Samoa's skipped
30 December 2011, half-hour and 45-minute offsets, +14).
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.availability.model import (
    Busy,
    Calendar,
    DayException,
    ExceptionKind,
    FreeTime,
    TimeOfDay,
    WeeklyWindow,
    Window,
    first_free_times,
    free_times,
    iter_free_times,
)

ZONES = [
    "UTC",
    "Asia/Phnom_Penh",
    "America/New_York",
    "Europe/Paris",
    "Australia/Lord_Howe",  # a half-hour change
    "Pacific/Chatham",  # +12:45 / +13:45
    "Pacific/Kiritimati",  # +14
    "Pacific/Apia",  # skipped 30 December 2011
    "America/Santiago",  # changes at midnight
    "Asia/Beirut",  # changes at midnight
    "America/Havana",  # changes at midnight
    "America/St_Johns",  # -03:30
    "Africa/Casablanca",  # changes twice a year around Ramadan
    "Pacific/Pago_Pago",  # -11
]
DOCTOR = uuid.UUID(int=7)
DAY_MINUTES = 24 * 60


def brute_force(
    calendar: Calendar,
    start: date,
    end: date,
    busy: list[Busy],
    now: datetime,
    time_of_day: TimeOfDay | None,
) -> list[FreeTime]:
    zone = ZoneInfo(calendar.time_zone)

    def instant(day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)

    found: list[FreeTime] = []
    day = start
    while day <= end:
        todays = [e for e in calendar.exceptions if e.day == day]
        whole_day_off = any(e.kind is ExceptionKind.OFF and e.window is None for e in todays)
        windows = (
            []
            if whole_day_off
            else [
                *(w for w in calendar.weekly if w.weekday == day.isoweekday()),
                *(e.window for e in todays if e.kind is ExceptionKind.EXTRA and e.window),
            ]
        )
        off = [
            (instant(day, e.window.start), instant(day, e.window.end))
            for e in todays
            if e.kind is ExceptionKind.OFF and e.window is not None
        ]
        for window in windows:
            opens, closes = instant(day, window.start), instant(day, window.end)
            length = timedelta(minutes=window.slot_minutes)
            buffer = timedelta(minutes=window.buffer_minutes)
            for k in itertools.count():
                at = opens + k * (length + buffer)
                if at + length > closes:
                    break
                blocked = at + length + buffer
                if (
                    at >= now
                    and not any(at < o_end and o_start < at + length for o_start, o_end in off)
                    and not any(at < b.until and b.start < blocked for b in busy)
                    and (time_of_day is None or time_of_day.admits(at))
                ):
                    found.append(
                        FreeTime(
                            doctor_id=calendar.doctor_id,
                            starts_at=at,
                            ends_at=at + length,
                            buffer_minutes=window.buffer_minutes,
                        )
                    )
        day += timedelta(days=1)
    return sorted(found, key=lambda f: f.starts_at)


def wall(minute: int) -> time:
    return time(minute // 60, minute % 60)


@st.composite
def windows(draw: st.DrawFn) -> Window:
    opens = draw(st.integers(0, DAY_MINUTES - 10)) // 5 * 5
    closes = draw(st.integers(opens + 5, DAY_MINUTES - 1))
    return Window(
        start=wall(opens),
        end=wall(closes),
        slot_minutes=draw(st.sampled_from([5, 15, 20, 30, 45, 60, 90, 240])),
        buffer_minutes=draw(st.sampled_from([0, 0, 5, 10, 30])),
    )


@st.composite
def searches(draw: st.DrawFn) -> tuple:
    zone = draw(st.sampled_from(ZONES))
    start = draw(
        st.one_of(
            st.dates(date(2011, 12, 20), date(2011, 12, 31)),  # Samoa's jump
            st.dates(date(2024, 1, 1), date(2027, 12, 31)),
        )
    )
    span = draw(st.integers(-1, 12))
    end = start + timedelta(days=span)
    weekly = tuple(
        WeeklyWindow(
            weekday=draw(st.integers(1, 7)),
            start=w.start,
            end=w.end,
            slot_minutes=w.slot_minutes,
            buffer_minutes=w.buffer_minutes,
        )
        for w in draw(st.lists(windows(), min_size=1, max_size=6))
    )
    days = [start + timedelta(days=n) for n in range(-1, 14)]
    exceptions = tuple(
        DayException(
            id=uuid.UUID(int=n),
            day=draw(st.sampled_from(days)),
            kind=kind,
            window=draw(windows()) if kind is ExceptionKind.EXTRA else draw(st.none() | windows()),
        )
        for n, kind in enumerate(draw(st.lists(st.sampled_from(ExceptionKind), max_size=4)))
    )
    origin = datetime.combine(start, time(0), UTC) - timedelta(days=1)
    busy: list[Busy] = []  # on the 5-minute grid, short, non-overlapping (the constraint)
    booked = st.tuples(st.integers(0, (span + 3) * DAY_MINUTES // 5), st.integers(1, 24))
    for at, length in sorted(draw(st.lists(booked, max_size=40))):
        starts = origin + timedelta(minutes=5 * at)
        if not busy or busy[-1].until <= starts:
            busy.append(Busy(starts, starts + timedelta(minutes=5 * length)))
    now = origin + timedelta(minutes=draw(st.integers(0, (span + 3) * DAY_MINUTES)))
    time_of_day = draw(
        st.none()
        | st.builds(
            TimeOfDay,
            st.builds(wall, st.integers(0, DAY_MINUTES - 1)),
            st.builds(wall, st.integers(0, DAY_MINUTES - 1)),
            st.sampled_from(ZONES),
        )
    )
    calendar = Calendar(doctor_id=DOCTOR, time_zone=zone, weekly=weekly, exceptions=exceptions)
    return calendar, start, end, busy, now, time_of_day


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(searches())
def test_the_lazy_computation_lists_what_brute_force_lists(search: tuple) -> None:
    calendar, start, end, busy, now, time_of_day = search
    expected = brute_force(calendar, start, end, busy, now, time_of_day)
    assert free_times(calendar, start, end, busy, now, time_of_day) == expected
    taken = list(itertools.islice(iter_free_times(calendar, start, end, busy, now, time_of_day), 3))
    assert taken == expected[:3]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(searches(), min_size=1, max_size=4),
    st.integers(1, 60),
    st.none() | st.integers(1, 20),
)
def test_the_first_times_of_several_calendars_are_the_brute_force_ones_merged(
    drawn: list[tuple], limit: int, per_calendar: int | None
) -> None:
    # the first search's days and now for all; the doctors in the order given
    _, start, end, _, now, _ = drawn[0]
    several = [
        (msgspec.structs.replace(calendar, doctor_id=uuid.UUID(int=n)), busy, time_of_day)
        for n, (calendar, _, _, busy, _, time_of_day) in enumerate(drawn)
    ]
    everything = [
        found
        for calendar, busy, time_of_day in several
        for found in brute_force(calendar, start, end, busy, now, time_of_day)[:per_calendar]
    ]
    expected = sorted(everything, key=lambda f: f.starts_at)[:limit]  # stable: ties by doctor
    assert first_free_times(several, start, end, now, limit, per_calendar) == expected


def test_samoa_s_missing_day_is_handled_like_any_other() -> None:
    # Pacific/Apia went from -10 to +14 at the end of 29 December 2011: the 31st's morning
    # comes before the (non-existent) 30th's times, which the zone places at -10
    every_day = tuple(
        WeeklyWindow(weekday=d, start=time(8), end=time(12), slot_minutes=60) for d in range(1, 8)
    )
    calendar = Calendar(doctor_id=DOCTOR, time_zone="Pacific/Apia", weekly=every_day)
    start, end, long_ago = date(2011, 12, 29), date(2011, 12, 31), datetime(2000, 1, 1, tzinfo=UTC)
    found = free_times(calendar, start, end, [], long_ago)
    assert found == brute_force(calendar, start, end, [], long_ago, None)
    assert [f.starts_at for f in found] == sorted(f.starts_at for f in found)
    assert len(found) == 12


class CountingTimeOfDay(TimeOfDay, frozen=True):
    """Admits every time and counts how many it was asked about."""

    def admits(self, instant: datetime) -> bool:
        ASKED.append(instant)
        return True


ASKED: list[datetime] = []


def test_the_first_times_of_a_long_search_cost_a_day_or_two_not_the_range() -> None:
    every_day = tuple(
        WeeklyWindow(weekday=d, start=time(8), end=time(18), slot_minutes=20, buffer_minutes=5)
        for d in range(1, 8)
    )  # 24 times a day
    calendar = Calendar(doctor_id=DOCTOR, time_zone="Asia/Phnom_Penh", weekly=every_day)
    start, long_ago = date(2027, 1, 4), datetime(2000, 1, 1, tzinfo=UTC)
    ASKED.clear()
    counting = CountingTimeOfDay(time(0), time(0), "UTC")
    first = list(
        itertools.islice(
            iter_free_times(calendar, start, start + timedelta(days=61), [], long_ago, counting),
            5,
        )
    )
    assert len(first) == 5 and len(ASKED) <= 2 * 24  # of 62 x 24 = 1,488 in the range
    ASKED.clear()
    everything = free_times(calendar, start, start + timedelta(days=61), [], long_ago, counting)
    assert len(everything) == len(ASKED) == 62 * 24 and everything[:5] == first
