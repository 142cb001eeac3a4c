"""Adherence: what share of the doses that fell due were taken, and how many days were covered.

Definitions, used alike by the SQL roll-ups and by the brute-force recomputation the
tests compare them with:

- a dose *falls due* once it is settled: taken, skipped or missed (a dose still
  scheduled, in the future or within its grace window, is not yet due);
- *adherence* over a period = doses taken ÷ doses due (late ones count as taken, and are
  also counted on their own); no dose due → no figure (``None``), not 0 or 100 %;
- *PDC*, the proportion of days covered = days on which every due dose was taken ÷
  days on which at least one dose fell due; never above 1. A patient is usually called
  adherent at PDC ≥ 0.8 (``ADHERENT_PDC``).

Days are the patient's local days (the dose's ``local_date``), so a week and a month are
the patient's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from fractions import Fraction
from uuid import UUID

ADHERENT_PDC = Fraction(8, 10)


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO weeks, starting on Monday
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class DoseOutcome:
    """One settled dose, as the roll-ups see it (no medicine, no amount: no PHI)."""

    patient_id: UUID
    prescription_id: UUID
    local_date: date
    status: str  # taken | skipped | missed
    late: bool = False


@dataclass(frozen=True, slots=True)
class Tally:
    due: int = 0
    taken: int = 0
    late: int = 0
    skipped: int = 0
    missed: int = 0
    days_due: int = 0
    days_covered: int = 0

    @property
    def adherence(self) -> Fraction | None:
        return Fraction(self.taken, self.due) if self.due else None

    @property
    def pdc(self) -> Fraction | None:
        return Fraction(self.days_covered, self.days_due) if self.days_due else None

    def __add__(self, other: Tally) -> Tally:
        return Tally(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def as_tuple(self) -> tuple[int, ...]:
        return (
            self.due,
            self.taken,
            self.late,
            self.skipped,
            self.missed,
            self.days_due,
            self.days_covered,
        )


def bucket_start(day: date, granularity: Granularity) -> date:
    if granularity is Granularity.WEEK:
        return day - timedelta(days=day.weekday())
    if granularity is Granularity.MONTH:
        return day.replace(day=1)
    return day


def day_tally(outcomes: Iterable[DoseOutcome]) -> Tally:
    """One day's doses (of one patient, or of one prescription) as a tally."""
    due = taken = late = skipped = missed = 0
    for outcome in outcomes:
        due += 1
        taken += outcome.status == "taken"
        late += outcome.status == "taken" and outcome.late
        skipped += outcome.status == "skipped"
        missed += outcome.status == "missed"
    if not due:
        return Tally()
    return Tally(due, taken, late, skipped, missed, 1, int(taken == due))


def tallies(
    outcomes: Iterable[DoseOutcome],
    granularity: Granularity,
    *,
    prescription_id: UUID | None = None,
) -> dict[date, Tally]:
    """Brute force: each bucket's tally, from every dose (of one prescription if named).
    The roll-ups must give the same figures; the tests check they do."""
    by_day: dict[date, list[DoseOutcome]] = {}
    for outcome in outcomes:
        if prescription_id is None or outcome.prescription_id == prescription_id:
            by_day.setdefault(outcome.local_date, []).append(outcome)
    buckets: dict[date, Tally] = {}
    for day, settled in by_day.items():
        start = bucket_start(day, granularity)
        buckets[start] = buckets.get(start, Tally()) + day_tally(settled)
    return buckets


@dataclass(frozen=True, slots=True)
class Trend:
    """This period against the one just before it, of the same length."""

    current: Fraction | None
    previous: Fraction | None

    @property
    def change(self) -> Fraction | None:
        if self.current is None or self.previous is None:
            return None
        return self.current - self.previous

    @property
    def direction(self) -> str:
        change = self.change
        if change is None:
            return "unknown"
        if abs(change) < Fraction(2, 100):  # within two points: steady
            return "steady"
        return "improving" if change > 0 else "worsening"
