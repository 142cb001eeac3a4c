"""The windows of months a page of the audit trail reads (domain/adapters/audit/months.py)."""

from __future__ import annotations

import random
from datetime import date

import pytest

from domain.adapters.audit.months import (
    FIRST_WINDOW,
    GROWTH_WHEN_NONE,
    MARGIN,
    MonthRange,
    Window,
    Windows,
    month_span,
)
from domain.adapters.audit.partitions import add_months


def months_of(events: list[tuple[int, date]]) -> list[MonthRange]:
    """Each month's range of positions, as audit_months keeps it for these (seq, month)."""
    ranges: dict[date, MonthRange] = {}
    for seq, month in events:
        held = ranges.get(month)
        ranges[month] = MonthRange(
            month,
            seq if held is None else min(held.first_seq, seq),
            seq if held is None else max(held.last_seq, seq),
        )
    return list(ranges.values())


def trail(months: int, per_month: int, late: int, rng: random.Random) -> list[tuple[int, date]]:
    """A trail in chain order: ``per_month`` events a month, the last of each month chained after
    the first of the next (their ranges overlap), and ``late`` chained at random later positions
    into a random earlier month (events whose writer died, linked by a later chaining)."""
    first = date(2020, 1, 1)
    month_list = [first]
    for _ in range(months - 1):
        month_list.append(add_months(month_list[-1], 1))
    placed = [month for month in month_list for _ in range(per_month)]
    for i in range(per_month, len(placed), per_month):  # the boundary's straggler
        placed[i - 1], placed[i] = placed[i], placed[i - 1]
    for _ in range(late):
        at = rng.randrange(1, len(placed))
        placed.insert(at, rng.choice(month_list[: month_list.index(placed[at - 1]) + 1]))
    return [(seq, month) for seq, month in enumerate(placed, start=1)]


def holding(window: Window, seq: int, month: date) -> bool:
    in_positions = (window.after is None or seq > window.after) and (
        window.below is None or seq < window.below
    )
    return in_positions and window.since <= month_span(month)[0] < window.until


def read(
    events: list[tuple[int, date]], after: int | None, wanted: int, matches=lambda seq: True
) -> tuple[list[Window], list[int]]:
    """A page read as the store reads it: window by window, each window's matching events in
    chain order up to what the page still wants, until it is full. The windows read, and
    the positions shown."""
    past = [month for month in months_of(events) if after is None or month.last_seq > after]
    plan, read_windows, shown = Windows(past, after, wanted), [], []
    for window in plan:
        read_windows.append(window)
        held = [seq for seq, month in events if matches(seq) and holding(window, seq, month)]
        found = held[: wanted - len(shown)]
        shown += found
        if len(shown) == wanted:
            break
        plan.found(len(found))
    return read_windows, shown


def sizes(found: list[Window]) -> list[int]:
    """How many months each window spans."""
    return [
        (w.until.year * 12 + w.until.month) - (w.since.year * 12 + w.since.month) for w in found
    ]


@pytest.mark.parametrize("seed", range(100))
def test_every_event_past_the_cursor_is_in_exactly_one_window(seed) -> None:
    """Whatever the events found say of the next window's size."""
    rng = random.Random(seed)
    events = trail(months=rng.randrange(1, 40), per_month=20, late=rng.randrange(0, 6), rng=rng)
    after = rng.choice([None, *range(1, len(events) + 1)])
    past = [month for month in months_of(events) if after is None or month.last_seq > after]

    found = []
    plan = Windows(past, after, wanted=rng.randrange(1, 100))
    for window in plan:
        found.append(window)
        plan.found(rng.randrange(0, 30))

    for seq, month in events:
        held = [w for w in found if holding(w, seq, month)]
        assert len(held) == (1 if after is None or seq > after else 0), (seq, month)
    positions = [(w.after, w.below) for w in found]
    assert positions == sorted(positions, key=lambda p: p[0] or 0)  # in chain order


@pytest.mark.parametrize("seed", range(20))
def test_a_page_shows_the_events_a_plain_read_would(seed) -> None:
    rng = random.Random(seed)
    events = trail(months=rng.randrange(1, 60), per_month=20, late=rng.randrange(0, 6), rng=rng)
    after = rng.choice([None, *range(1, len(events) + 1)])
    every = rng.choice([1, 3, 40, 100_000])

    _, shown = read(events, after, 25, lambda seq: seq % every == 0)

    plain = [seq for seq, _ in events if seq % every == 0 and (after is None or seq > after)]
    assert shown == plain[:25]


def test_the_next_window_takes_the_months_the_events_found_say_the_page_needs() -> None:
    events = trail(months=60, per_month=10, late=0, rng=random.Random(1))

    found, shown = read(events, None, 51)

    # the first 2 months held 19 events under the third's first position (the second month's
    # straggler lies past it); 32 more at 9.5 a month is 3.4 months, 6 with the margin, and
    # the second window spans 7, as it takes in the second month, whose straggler it holds
    assert (FIRST_WINDOW, MARGIN) == (2, 1.5)
    assert sizes(found) == [2, 7]
    assert shown == list(range(1, 52))


def test_windows_that_find_nothing_grow_fourfold_and_the_last_reaches_the_end() -> None:
    events = trail(months=60, per_month=10, late=0, rng=random.Random(1))

    found, shown = read(events, None, 51, matches=lambda seq: False)

    # 2 months, then to the 8th, the 32nd, the end; each window after the first also takes
    # in the month before it, whose straggler it holds
    assert GROWTH_WHEN_NONE == 4
    assert sizes(found) == [2, 7, 25, 29]
    assert found[0].after is None and found[-1].below is None and shown == []


def test_a_cursor_in_the_newest_months_opens_those_alone() -> None:
    events = trail(months=72, per_month=100, late=0, rng=random.Random(2))
    after = events[-150][0]  # a page and a half before the end

    [window], shown = read(events, after, 50)

    assert (window.after, window.below) == (after, None)
    assert window.since == month_span(events[-150][1])[0]
    assert window.until == month_span(events[-1][1])[1]
    assert shown == list(range(after + 1, after + 51))


def test_a_late_event_in_an_old_month_joins_the_window_that_reaches_it() -> None:
    # two years in order, then an event of the first month chained at the very end
    events = trail(months=24, per_month=10, late=0, rng=random.Random(3))
    events.append((len(events) + 1, events[0][1]))
    after = len(events) - 5

    found, shown = read(events, after, 50)

    assert [w.below for w in found] == [None]
    assert found[0].since == month_span(events[0][1])[0]  # the old month joins the window
    assert shown == [seq for seq, _ in events[after:]]


def test_no_month_past_the_cursor_means_no_window() -> None:
    assert list(Windows([], 42, 50)) == []
