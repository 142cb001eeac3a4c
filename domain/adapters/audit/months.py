"""Which months of the audit trail a page reads, from the range of chain positions each holds.

The trail is partitioned by month of ``at``; a page is read in ``seq`` order. ``audit_months``
(migration 0809) keeps, for each month, the lowest and highest ``seq`` among its events; its
ranges only widen, and the newest month's reaches to the chain's head. Ranges of neighbouring
months may overlap (an event is stamped when it is recorded, placed in the chain when it is
chained), so a month is only where events *may* be.

A page after position ``after`` is read in windows of months taken in order of their first
position. A window stops short of the first position of the next month not yet read
(``below``): every event under it lies in a month whose range starts under it and ends past
the last position read, so the window's months hold them all, and a read of the window that
comes back short of the page has found every one of them. The next window then takes as
many more months as the events found so far say the rest of the page needs, with a margin
(``MARGIN``), or ``GROWTH_WHEN_NONE`` times the months read when none was found; the last
reaches the end of the trail. A page that fills in the newest months opens those alone,
however many years the trail holds; a page of a filter that matches little reads on until
it is full, through every month at worst.

The reads of the windows must not show an event chained after the ranges were read: one
chained meanwhile into a month whose range was read before it widened would fall outside
every window, and the page would show the events after it and pass it. So the store reads
the ranges with the chain's head, and no event past that head.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

from domain.adapters.audit.partitions import add_months

FIRST_WINDOW = 2  # months
MARGIN = 1.5  # months taken for each month the found events say the rest of a page needs
GROWTH_WHEN_NONE = 4  # times the months read so far, when they held no event of the page


@dataclass(frozen=True)
class MonthRange:
    """A month (of ``at``, UTC) and the lowest and highest ``seq`` among its events."""

    month: date
    first_seq: int
    last_seq: int


@dataclass(frozen=True)
class Window:
    """Read the events after ``after`` and under ``below`` (to the end when None), whose ``at``
    is in [``since``, ``until``): the months that may hold them span exactly that."""

    after: int | None
    below: int | None
    since: datetime
    until: datetime


def month_span(month: date) -> tuple[datetime, datetime]:
    """The first instant (UTC) of ``month`` and of the month after it."""
    following = add_months(month, 1)
    return (
        datetime(month.year, month.month, 1, tzinfo=UTC),
        datetime(following.year, following.month, 1, tzinfo=UTC),
    )


class Windows:
    """The windows of a page of ``wanted`` events after ``after``, in chain order, over
    ``months`` (every month with an event past ``after`` that the page's time filter may want,
    in any order). Iterate, and tell ``found`` how many events each window held."""

    def __init__(self, months: list[MonthRange], after: int | None, wanted: int) -> None:
        self._by_start = sorted(months, key=lambda m: m.first_seq)
        self._read_to = after
        self._wanted = wanted
        self._taken = 0  # months read, in order of their first position
        self._found = 0

    def found(self, count: int) -> None:
        self._found += count

    def __iter__(self) -> Iterator[Window]:
        return self

    def __next__(self) -> Window:
        while self._taken < len(self._by_start):
            self._taken = self._next_taken()
            below = (
                self._by_start[self._taken].first_seq if self._taken < len(self._by_start) else None
            )
            read_to = self._read_to
            held = [
                m.month
                for m in self._by_start[: self._taken]
                if read_to is None or m.last_seq > read_to
            ]
            if below is not None:
                self._read_to = below - 1 if read_to is None else max(read_to, below - 1)
            if held:
                return Window(
                    after=read_to,
                    below=below,
                    since=month_span(min(held))[0],
                    until=month_span(max(held))[1],
                )
        raise StopIteration

    def _next_taken(self) -> int:
        if not self._taken:
            return FIRST_WINDOW
        if not self._found:
            return self._taken * GROWTH_WHEN_NONE
        needed = self._taken * (self._wanted - self._found) / self._found
        return self._taken + max(1, math.ceil(MARGIN * needed))
