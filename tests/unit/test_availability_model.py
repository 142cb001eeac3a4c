"""Free times from weekly windows and exceptions: time zones, daylight saving, buffers, bookings."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest

from domain.availability.model import (
    Busy,
    Calendar,
    DayException,
    ExceptionKind,
    TimeOfDay,
    WeeklyWindow,
    Window,
    check_week,
    free_times,
    offers,
)
from domain.errors import ValidationFailed

DOCTOR = uuid.uuid4()
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def calendar(zone: str, *weekly: WeeklyWindow, exceptions=()) -> Calendar:
    return Calendar(doctor_id=DOCTOR, time_zone=zone, weekly=weekly, exceptions=tuple(exceptions))


def window(weekday: int, start: str, end: str, slot: int = 30, buffer: int = 0) -> WeeklyWindow:
    return WeeklyWindow(
        weekday=weekday,
        start=time.fromisoformat(start),
        end=time.fromisoformat(end),
        slot_minutes=slot,
        buffer_minutes=buffer,
    )


def starts(found) -> list[str]:
    return [f.starts_at.isoformat() for f in found]


def test_a_window_is_cut_into_consultations_and_buffers() -> None:
    monday = date(2026, 1, 5)
    found = free_times(
        calendar("UTC", window(1, "09:00", "11:00", 30, 10)), monday, monday, (), LONG_AGO
    )
    assert starts(found) == [
        "2026-01-05T09:00:00+00:00",
        "2026-01-05T09:40:00+00:00",
        "2026-01-05T10:20:00+00:00",
    ]  # 11:00 is reached by the third's end (10:50) only; a fourth would end at 11:30
    assert all(f.ends_at - f.starts_at == timedelta(minutes=30) for f in found)


def test_wall_clock_hours_stay_put_across_daylight_saving() -> None:
    # New York: EST (-5) before 8 March 2026, EDT (-4) from then on
    cal = calendar("America/New_York", window(6, "09:00", "09:30"), window(1, "09:00", "09:30"))
    found = free_times(cal, date(2026, 3, 7), date(2026, 3, 9), (), LONG_AGO)
    assert starts(found) == ["2026-03-07T14:00:00+00:00", "2026-03-09T13:00:00+00:00"]


def test_a_window_across_the_spring_forward_night_is_as_long_as_the_clock_says() -> None:
    # 8 March 2026 (a Sunday) in New York: 02:00 jumps to 03:00; 01:00-04:00 is two real hours
    cal = calendar("America/New_York", window(7, "01:00", "04:00", 60))
    found = free_times(cal, date(2026, 3, 8), date(2026, 3, 8), (), LONG_AGO)
    # 01:00 EST is 06:00 UTC; the second hour starts at 03:00 EDT (07:00 UTC), ends 04:00 EDT
    assert starts(found) == ["2026-03-08T06:00:00+00:00", "2026-03-08T07:00:00+00:00"]
    assert found[-1].ends_at.isoformat() == "2026-03-08T08:00:00+00:00"


def test_a_window_across_the_fall_back_night_gains_the_repeated_hour() -> None:
    # 1 November 2026 (a Sunday): 02:00 EDT goes back to 01:00 EST; 00:00-03:00 is four hours
    cal = calendar("America/New_York", window(7, "00:00", "03:00", 60))
    found = free_times(cal, date(2026, 11, 1), date(2026, 11, 1), (), LONG_AGO)
    assert len(found) == 4
    assert found[0].starts_at.isoformat() == "2026-11-01T04:00:00+00:00"


def test_a_patient_elsewhere_filters_by_their_own_clock() -> None:
    # a doctor in Phnom Penh (+7) from 08:00 to 12:00; a patient in Paris (+1 in January)
    cal = calendar("Asia/Phnom_Penh", window(1, "08:00", "12:00", 60))
    monday = date(2026, 1, 5)
    mornings_in_paris = TimeOfDay(time(3, 0), time(5, 0), "Europe/Paris")
    found = free_times(cal, monday, monday, (), LONG_AGO, mornings_in_paris)
    # 08:00 and 09:00 in Phnom Penh are 02:00 and 03:00 in Paris; 10:00 is 04:00
    assert starts(found) == ["2026-01-05T02:00:00+00:00", "2026-01-05T03:00:00+00:00"]


def test_bookings_block_their_time_and_buffer() -> None:
    cal = calendar("UTC", window(1, "09:00", "12:00", 30, 15))
    monday = date(2026, 1, 5)
    at = datetime(2026, 1, 5, 9, 45, tzinfo=UTC)
    # someone else's consultation 10:00-10:20 with a 30 minute buffer blocks until 10:50
    busy = [Busy(datetime(2026, 1, 5, 10, 0, tzinfo=UTC), datetime(2026, 1, 5, 10, 50, tzinfo=UTC))]
    found = free_times(cal, monday, monday, busy, LONG_AGO)
    # 09:00 (blocks to 09:45) fits; 09:45 (to 10:30) overlaps; 10:30 overlaps; 11:15 fits
    assert starts(found) == ["2026-01-05T09:00:00+00:00", "2026-01-05T11:15:00+00:00"]
    assert at.isoformat() not in starts(found)


def test_past_times_are_gone() -> None:
    cal = calendar("UTC", window(1, "09:00", "11:00", 60))
    monday = date(2026, 1, 5)
    found = free_times(cal, monday, monday, (), datetime(2026, 1, 5, 9, 30, tzinfo=UTC))
    assert starts(found) == ["2026-01-05T10:00:00+00:00"]


def test_days_off_and_extra_hours() -> None:
    off = DayException(id=uuid.uuid4(), day=date(2026, 1, 5), kind=ExceptionKind.OFF)
    extra = DayException(
        id=uuid.uuid4(),
        day=date(2026, 1, 6),
        kind=ExceptionKind.EXTRA,
        window=Window(start=time(18), end=time(19), slot_minutes=60),
    )
    morning_off = DayException(
        id=uuid.uuid4(),
        day=date(2026, 1, 7),
        kind=ExceptionKind.OFF,
        window=Window(start=time(9), end=time(10), slot_minutes=60),
    )
    cal = calendar(
        "UTC",
        *(window(day, "09:00", "11:00", 60) for day in (1, 2, 3)),
        exceptions=(off, extra, morning_off),
    )
    found = free_times(cal, date(2026, 1, 5), date(2026, 1, 7), (), LONG_AGO)
    assert starts(found) == [
        "2026-01-06T09:00:00+00:00",
        "2026-01-06T10:00:00+00:00",
        "2026-01-06T18:00:00+00:00",
        "2026-01-07T10:00:00+00:00",
    ]


def test_offers_names_a_time_of_the_calendar_only() -> None:
    cal = calendar("Asia/Phnom_Penh", window(1, "08:00", "10:00", 60, 10))
    at = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)  # 08:00 in Phnom Penh
    offered = offers(cal, at, at + timedelta(hours=1))
    assert offered is not None and offered.blocked_until == at + timedelta(minutes=70)
    assert offers(cal, at + timedelta(minutes=5), at + timedelta(minutes=65)) is None


def test_overlapping_windows_of_one_weekday_are_refused() -> None:
    with pytest.raises(ValidationFailed):
        check_week([window(1, "09:00", "11:00"), window(1, "10:00", "12:00")])
    with pytest.raises(ValidationFailed):
        check_week([window(1, "11:00", "10:00")])
    assert len(check_week([window(1, "09:00", "10:00"), window(1, "10:00", "11:00")])) == 2
