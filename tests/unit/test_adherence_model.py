"""Adherence's definitions: due doses, late ones, PDC, buckets and trends."""

from __future__ import annotations

import uuid
from datetime import date
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from domain.adherence.model import (
    DoseOutcome,
    Granularity,
    Tally,
    Trend,
    bucket_start,
    day_tally,
    tallies,
)

PATIENT, RX1, RX2 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def dose(day: date, status: str, *, late: bool = False, rx: uuid.UUID = RX1) -> DoseOutcome:
    return DoseOutcome(PATIENT, rx, day, status, late)


def test_a_day_is_covered_only_when_every_due_dose_was_taken() -> None:
    day = date(2026, 3, 2)
    assert day_tally([dose(day, "taken"), dose(day, "taken", late=True)]) == Tally(
        due=2, taken=2, late=1, days_due=1, days_covered=1
    )
    partly = day_tally([dose(day, "taken"), dose(day, "missed")])
    assert (partly.days_due, partly.days_covered, partly.adherence) == (1, 0, Fraction(1, 2))
    assert day_tally([]) == Tally()


def test_no_dose_due_means_no_figure_rather_than_zero() -> None:
    assert Tally().adherence is None
    assert Tally().pdc is None


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    sunday = date(2026, 3, 29)
    assert bucket_start(sunday, Granularity.WEEK) == date(2026, 3, 23)
    assert bucket_start(sunday, Granularity.MONTH) == date(2026, 3, 1)
    assert bucket_start(sunday, Granularity.DAY) == sunday


def test_a_prescriptions_tally_ignores_the_others() -> None:
    day = date(2026, 3, 2)
    outcomes = [dose(day, "taken"), dose(day, "missed", rx=RX2)]
    assert tallies(outcomes, Granularity.DAY)[day].adherence == Fraction(1, 2)
    assert tallies(outcomes, Granularity.DAY, prescription_id=RX1)[day].pdc == 1


def test_the_trend_compares_with_the_period_before() -> None:
    assert Trend(Fraction(9, 10), Fraction(7, 10)).direction == "improving"
    assert Trend(Fraction(6, 10), Fraction(7, 10)).direction == "worsening"
    assert Trend(Fraction(70, 100), Fraction(71, 100)).direction == "steady"
    assert Trend(None, Fraction(1, 2)).direction == "unknown"


outcomes_strategy = st.lists(
    st.builds(
        DoseOutcome,
        st.just(PATIENT),
        st.sampled_from([RX1, RX2]),
        st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 4, 30)),
        st.sampled_from(["taken", "skipped", "missed"]),
        st.booleans(),
    ),
    max_size=80,
)


@given(outcomes_strategy, st.sampled_from(list(Granularity)))
def test_pdc_and_adherence_stay_between_zero_and_one(
    outcomes: list[DoseOutcome], granularity: Granularity
) -> None:
    for tally in tallies(outcomes, granularity).values():
        assert tally.adherence is not None and 0 <= tally.adherence <= 1
        assert tally.pdc is not None and 0 <= tally.pdc <= 1
        assert tally.late <= tally.taken
        assert tally.taken + tally.skipped + tally.missed == tally.due
