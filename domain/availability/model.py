"""A doctor's calendar and the pure rule that turns it into free times.

Templates and exceptions are wall-clock times in the doctor's time zone; every
instant we compute is UTC. A window's ends are converted day by day through
``zoneinfo``, so a window on a day when the clocks change is as long as the
clock says (01:00-04:00 on a spring-forward night is two real hours). Times
inside a window are stepped in real time: ``slot + buffer`` apart.

A consultation blocks ``[start, end + buffer)``; a free time is one whose
blocked range overlaps no held or confirmed consultation's. The database's
exclusion constraint enforces the same rule, so a time shown free may still
be lost to a faster hold, never double booked.
"""

from __future__ import annotations

import enum
import functools
import heapq
import itertools
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import msgspec

from domain.errors import ValidationFailed

MAX_SEARCH_DAYS = 62  # a search covers at most about two months
MIN_SLOT_MINUTES = 5
MAX_SLOT_MINUTES = 480
MAX_BUFFER_MINUTES = 240


class ExceptionKind(enum.StrEnum):
    OFF = "off"  # no consultations on that day (or in that window of it)
    EXTRA = "extra"  # extra hours on that day, on top of the template


class Window(msgspec.Struct, frozen=True, kw_only=True):
    """Wall-clock hours and how they are cut: consultations of ``slot_minutes``, then a pause."""

    start: time
    end: time
    slot_minutes: int
    buffer_minutes: int = 0


class WeeklyWindow(Window, frozen=True, kw_only=True):
    weekday: int  # ISO: 1 = Monday ... 7 = Sunday


class DayException(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    day: date
    kind: ExceptionKind
    window: Window | None = None  # OFF without a window: the whole day


class Calendar(msgspec.Struct, frozen=True, kw_only=True):
    doctor_id: uuid.UUID
    time_zone: str
    weekly: tuple[WeeklyWindow, ...] = ()
    exceptions: tuple[DayException, ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class FreeTime(msgspec.Struct, frozen=True, kw_only=True):
    doctor_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    buffer_minutes: int

    @property
    def blocked_until(self) -> datetime:
        return self.ends_at + timedelta(minutes=self.buffer_minutes)


class Busy(msgspec.Struct, frozen=True):
    """A held or confirmed consultation's blocked range, ``[start, until)``."""

    start: datetime
    until: datetime


class TimeOfDay(msgspec.Struct, frozen=True):
    """Only times starting in ``[start, end)`` on the wall clock of ``zone``; an end at or
    before the start runs across midnight (22:00-02:00), an equal one is the whole day."""

    start: time
    end: time
    zone: str

    def admits(self, instant: datetime) -> bool:
        local = instant.astimezone(ZoneInfo(self.zone)).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end or self.start == self.end


def check_time_zone(name: str) -> str:
    if name not in _zones():
        raise ValidationFailed("not a time zone of the IANA database", field="timeZone")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed("not a time zone of the IANA database", field="timeZone") from None
    return name


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


def check_window(window: Window, field: str = "windows") -> Window:
    if not window.start < window.end:
        raise ValidationFailed("a window must start before it ends", field=field)
    if not MIN_SLOT_MINUTES <= window.slot_minutes <= MAX_SLOT_MINUTES:
        raise ValidationFailed(
            f"a consultation lasts {MIN_SLOT_MINUTES} to {MAX_SLOT_MINUTES} minutes", field=field
        )
    if not 0 <= window.buffer_minutes <= MAX_BUFFER_MINUTES:
        raise ValidationFailed(f"a buffer is 0 to {MAX_BUFFER_MINUTES} minutes", field=field)
    return window


def check_week(windows: Sequence[WeeklyWindow]) -> tuple[WeeklyWindow, ...]:
    """The windows of a week, checked: valid each, and no two overlapping on a weekday."""
    by_day: dict[int, list[WeeklyWindow]] = {}
    for window in windows:
        if not 1 <= window.weekday <= 7:
            raise ValidationFailed("weekday is 1 (Monday) to 7 (Sunday)", field="weekday")
        by_day.setdefault(window.weekday, []).append(check_window(window))
    for day in by_day.values():
        day.sort(key=lambda w: w.start)
        for earlier, later in itertools.pairwise(day):
            if later.start < earlier.end:
                raise ValidationFailed("two windows of one weekday overlap", field="windows")
    return tuple(sorted(windows, key=lambda w: (w.weekday, w.start)))


def searched_days(start: date, end: date) -> date:
    """The last day a search covers: ``end``, but at most ``MAX_SEARCH_DAYS`` from ``start``."""
    return min(end, start + timedelta(days=MAX_SEARCH_DAYS - 1))


def _instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time; a time the clocks skip counts as after the jump."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _by_day(exceptions: Iterable[DayException]) -> dict[date, list[DayException]]:
    found: dict[date, list[DayException]] = {}
    for exception in exceptions:
        found.setdefault(exception.day, []).append(exception)
    return found


def _windows_on(calendar: Calendar, day: date, exceptions: Sequence[DayException]) -> list[Window]:
    if any(e.kind is ExceptionKind.OFF and e.window is None for e in exceptions):
        return []
    windows: list[Window] = [w for w in calendar.weekly if w.weekday == day.isoweekday()]
    windows += [e.window for e in exceptions if e.kind is ExceptionKind.EXTRA and e.window]
    return windows


def _off_ranges(day: date, exceptions: Sequence[DayException], zone: ZoneInfo) -> list[Busy]:
    return [
        Busy(_instant(day, e.window.start, zone), _instant(day, e.window.end, zone))
        for e in exceptions
        if e.kind is ExceptionKind.OFF and e.window is not None
    ]


def _overlaps(start: datetime, until: datetime, ranges: Iterable[Busy]) -> bool:
    return any(start < busy.until and busy.start < until for busy in ranges)


@functools.lru_cache(maxsize=512)
def _widest_offset(zone_name: str, first: date, last: date) -> timedelta:
    """The largest UTC offset a wall-clock time of the local days ``first`` to ``last`` may be
    given (either side of any change: each day's first and last second, both folds), an hour
    more for safety. No instant of those days is earlier than its naive wall time less this."""
    zone = ZoneInfo(zone_name)
    widest = timedelta(0)
    day, last = max(first, date.min + _DAY) - _DAY, min(last, date.max - _DAY) + _DAY
    while day <= last:
        for at in (time.min, _LAST_SECOND):
            for fold in (0, 1):
                offset = datetime.combine(day, at, tzinfo=zone).replace(fold=fold).utcoffset()
                widest = max(widest, offset or timedelta(0))
        day += _DAY
    return widest + timedelta(hours=1)


_LAST_SECOND = time(23, 59, 59)
_DAY = timedelta(days=1)


def iter_free_times(
    calendar: Calendar,
    start: date,
    end: date,
    busy: Sequence[Busy],
    now: datetime,
    time_of_day: TimeOfDay | None = None,
) -> Iterator[FreeTime]:
    """Free times on the doctor's local days ``start`` to ``end`` (both included), in order,
    computed a day at a time as they are asked for: the first few of a long range cost a day
    or two of work, not the range's.

    ``busy`` are the doctor's held and confirmed consultations; times before ``now``
    are gone. Equal starts keep the order of their days, windows and steps (what a stable
    sort of every time of the range gives). A day's times are held back until no later
    day can have an earlier one: no time of local day ``d`` or later starts before
    ``d`` 00:00 (naive, as if UTC) less the widest offset of the zone in the range.
    """
    if start > end:
        return
    zone = calendar.zone
    ordered = sorted(busy, key=lambda b: b.start)
    exceptions = _by_day(calendar.exceptions)
    widest = _widest_offset(calendar.time_zone, start, end)
    doctor_id = calendar.doctor_id
    pending: list[tuple[datetime, int, datetime, int]] = []  # (start, order, end, buffer)
    order = 0
    day = start
    while day <= end:
        on_day = exceptions.get(day, ())
        off = _off_ranges(day, on_day, zone)
        for window in _windows_on(calendar, day, on_day):
            opens = _instant(day, window.start, zone)
            closes = _instant(day, window.end, zone)
            length = timedelta(minutes=window.slot_minutes)
            buffer = timedelta(minutes=window.buffer_minutes)
            step = length + buffer
            at = opens
            if at < now:  # the first step at or after now
                at = opens - ((opens - now) // step) * step
            while at + length <= closes:
                ends = at + length
                if (
                    not (off and _overlaps(at, ends, off))
                    and not (
                        ordered and _overlaps(at, ends + buffer, _near(ordered, at, ends + buffer))
                    )
                    and (time_of_day is None or time_of_day.admits(at))
                ):
                    heapq.heappush(pending, (at, order, ends, window.buffer_minutes))
                    order += 1
                at += step
        day += _DAY
        later = datetime.combine(day, time.min, tzinfo=UTC) - widest
        while pending and (day > end or pending[0][0] < later):
            at, _, ends, buffer_minutes = heapq.heappop(pending)
            yield FreeTime(
                doctor_id=doctor_id, starts_at=at, ends_at=ends, buffer_minutes=buffer_minutes
            )


Search = tuple[Calendar, Sequence[Busy], TimeOfDay | None]


def first_free_times(
    searches: Sequence[Search],
    start: date,
    end: date,
    now: datetime,
    limit: int,
    per_calendar: int | None = None,
) -> list[FreeTime]:
    """The first ``limit`` free times of several calendars (each with its bookings and time of
    day) on their local days ``start`` to ``end``, soonest first; equal starts in the order of
    ``searches``, then each calendar's own; with ``per_calendar``, at most that many of each
    calendar (its soonest). Each calendar is computed only as far as its times are listed."""
    streams = [
        itertools.islice(
            iter_free_times(calendar, start, end, busy, now, time_of_day), per_calendar
        )
        for calendar, busy, time_of_day in searches
    ]
    return list(itertools.islice(heapq.merge(*streams, key=_starts_at), limit))


def _starts_at(free: FreeTime) -> datetime:
    return free.starts_at


def free_times(
    calendar: Calendar,
    start: date,
    end: date,
    busy: Sequence[Busy],
    now: datetime,
    time_of_day: TimeOfDay | None = None,
) -> list[FreeTime]:
    """Every free time of ``iter_free_times``, as a list."""
    return list(iter_free_times(calendar, start, end, busy, now, time_of_day))


def _near(ordered: Sequence[Busy], start: datetime, until: datetime) -> Sequence[Busy]:
    """The busy ranges that may overlap ``[start, until)``. One doctor's ranges never overlap
    (the exclusion constraint), so sorted by start they are sorted by end too: binary search
    the last one starting before ``until``, then walk back while they end after ``start``."""
    lo, hi = 0, len(ordered)
    while lo < hi:
        mid = (lo + hi) // 2
        if ordered[mid].start < until:
            lo = mid + 1
        else:
            hi = mid
    first = lo
    while first > 0 and ordered[first - 1].until > start:
        first -= 1
    return ordered[first:lo]


def offers(calendar: Calendar, starts_at: datetime, ends_at: datetime) -> FreeTime | None:
    """The calendar's time at exactly ``[starts_at, ends_at)``, ignoring bookings; else None."""
    zone = calendar.zone
    local_day = starts_at.astimezone(zone).date()
    for day in (local_day - timedelta(days=1), local_day):
        for found in free_times(calendar, day, day, (), datetime.min.replace(tzinfo=UTC)):
            if found.starts_at == starts_at and found.ends_at == ends_at:
                return found
    return None
