"""The frequency parser over real-world notations: what each means, and what it refuses."""

from __future__ import annotations

from datetime import time
from fractions import Fraction

import pytest

from domain.errors import ValidationFailed
from domain.prescriptions.frequency import UnknownFrequency, parse_frequency

H = time
M, N, A, E, NI = H(8), H(12), H(14), H(20), H(22)

# notation -> (canonical notation, every_days, [(time, amount)])
READS: list[tuple[str, str, int, list[tuple[time, str]]]] = [
    # once a day
    ("OD", "OD", 1, [(M, "1")]),
    ("od", "OD", 1, [(M, "1")]),
    ("o.d.", "OD", 1, [(M, "1")]),
    ("QD", "OD", 1, [(M, "1")]),
    ("q.d.", "OD", 1, [(M, "1")]),
    ("daily", "OD", 1, [(M, "1")]),
    ("Once daily", "OD", 1, [(M, "1")]),
    ("once a day", "OD", 1, [(M, "1")]),
    ("once per day", "OD", 1, [(M, "1")]),
    ("1x daily", "OD", 1, [(M, "1")]),
    ("1 time a day", "OD", 1, [(M, "1")]),
    ("one time daily", "OD", 1, [(M, "1")]),
    ("every day", "OD", 1, [(M, "1")]),
    ("q24h", "OD", 1, [(M, "1")]),
    ("every 24 hours", "OD", 1, [(M, "1")]),
    ("QAM", "OD", 1, [(M, "1")]),
    ("mane", "OD", 1, [(M, "1")]),
    ("every morning", "OD", 1, [(M, "1")]),
    ("QPM", "OD", 1, [(E, "1")]),
    ("in the evening", "OD", 1, [(E, "1")]),
    ("HS", "OD", 1, [(NI, "1")]),
    ("h.s.", "OD", 1, [(NI, "1")]),
    ("nocte", "OD", 1, [(NI, "1")]),
    ("at bedtime", "OD", 1, [(NI, "1")]),
    ("at night", "OD", 1, [(NI, "1")]),
    ("once daily at bedtime", "OD", 1, [(NI, "1")]),
    ("OD in the morning", "OD", 1, [(M, "1")]),
    ("once a day at night", "OD", 1, [(NI, "1")]),
    ("daily with breakfast", "OD", 1, [(M, "1")]),
    # twice a day
    ("BID", "BID", 1, [(M, "1"), (E, "1")]),
    ("b.i.d.", "BID", 1, [(M, "1"), (E, "1")]),
    ("BD", "BID", 1, [(M, "1"), (E, "1")]),
    ("twice daily", "BID", 1, [(M, "1"), (E, "1")]),
    ("twice a day", "BID", 1, [(M, "1"), (E, "1")]),
    ("2x/day", "BID", 1, [(M, "1"), (E, "1")]),
    ("2 x daily", "BID", 1, [(M, "1"), (E, "1")]),
    ("2 times a day", "BID", 1, [(M, "1"), (E, "1")]),
    ("two times per day", "BID", 1, [(M, "1"), (E, "1")]),
    ("q12h", "Q12H", 1, [(M, "1"), (E, "1")]),
    ("q 12 h", "Q12H", 1, [(M, "1"), (E, "1")]),
    ("every 12 hours", "Q12H", 1, [(M, "1"), (E, "1")]),
    ("1-0-1", "1-0-1", 1, [(M, "1"), (E, "1")]),
    ("1 - 0 - 1", "1-0-1", 1, [(M, "1"), (E, "1")]),
    ("1+0+1", "1-0-1", 1, [(M, "1"), (E, "1")]),
    ("2-0-2", "2-0-2", 1, [(M, "2"), (E, "2")]),
    ("1/2-0-1/2", "1/2-0-1/2", 1, [(M, "1/2"), (E, "1/2")]),
    ("½-0-½", "1/2-0-1/2", 1, [(M, "1/2"), (E, "1/2")]),
    ("1-0-0.5", "1-0-1/2", 1, [(M, "1"), (E, "1/2")]),
    ("1-1", "1-1", 1, [(M, "1"), (E, "1")]),
    # three times a day
    ("TID", "TID", 1, [(M, "1"), (A, "1"), (E, "1")]),
    ("t.i.d.", "TID", 1, [(M, "1"), (A, "1"), (E, "1")]),
    ("TDS", "TID", 1, [(M, "1"), (A, "1"), (E, "1")]),
    ("three times a day", "TID", 1, [(M, "1"), (A, "1"), (E, "1")]),
    ("thrice daily", "TID", 1, [(M, "1"), (A, "1"), (E, "1")]),
    ("3x daily", "TID", 1, [(M, "1"), (A, "1"), (E, "1")]),
    ("3 times daily", "TID", 1, [(M, "1"), (A, "1"), (E, "1")]),
    ("1-1-1", "1-1-1", 1, [(M, "1"), (A, "1"), (E, "1")]),
    ("0-0-1", "0-0-1", 1, [(E, "1")]),
    ("1-0-0", "1-0-0", 1, [(M, "1")]),
    ("0-1-0", "0-1-0", 1, [(A, "1")]),
    ("q8h", "Q8H", 1, [(H(0), "1"), (M, "1"), (H(16), "1")]),
    ("every 8 hours", "Q8H", 1, [(H(0), "1"), (M, "1"), (H(16), "1")]),
    ("q8hrs", "Q8H", 1, [(H(0), "1"), (M, "1"), (H(16), "1")]),
    # four times a day and more
    ("QID", "QID", 1, [(M, "1"), (N, "1"), (H(16), "1"), (E, "1")]),
    ("q.i.d.", "QID", 1, [(M, "1"), (N, "1"), (H(16), "1"), (E, "1")]),
    ("QDS", "QID", 1, [(M, "1"), (N, "1"), (H(16), "1"), (E, "1")]),
    ("four times a day", "QID", 1, [(M, "1"), (N, "1"), (H(16), "1"), (E, "1")]),
    ("4x daily", "QID", 1, [(M, "1"), (N, "1"), (H(16), "1"), (E, "1")]),
    ("1-1-1-1", "1-1-1-1", 1, [(M, "1"), (N, "1"), (H(18), "1"), (NI, "1")]),
    ("q6h", "Q6H", 1, [(H(2), "1"), (M, "1"), (H(14), "1"), (E, "1")]),
    ("every 6 hours", "Q6H", 1, [(H(2), "1"), (M, "1"), (H(14), "1"), (E, "1")]),
    ("q4h", "Q4H", 1, [(H(h), "1") for h in (0, 4, 8, 12, 16, 20)]),
    ("Q 4 hours", "Q4H", 1, [(H(h), "1") for h in (0, 4, 8, 12, 16, 20)]),
    # every few days, weekly
    ("every other day", "EVERY_2_DAYS", 2, [(M, "1")]),
    ("QOD", "EVERY_2_DAYS", 2, [(M, "1")]),
    ("q.o.d.", "EVERY_2_DAYS", 2, [(M, "1")]),
    ("EOD", "EVERY_2_DAYS", 2, [(M, "1")]),
    ("alternate days", "EVERY_2_DAYS", 2, [(M, "1")]),
    ("on alternate days", "EVERY_2_DAYS", 2, [(M, "1")]),
    ("q48h", "EVERY_2_DAYS", 2, [(M, "1")]),
    ("every 3 days", "EVERY_3_DAYS", 3, [(M, "1")]),
    ("q72h", "EVERY_3_DAYS", 3, [(M, "1")]),
    ("weekly", "WEEKLY", 7, [(M, "1")]),
    ("once weekly", "WEEKLY", 7, [(M, "1")]),
    ("once a week", "WEEKLY", 7, [(M, "1")]),
    ("QW", "WEEKLY", 7, [(M, "1")]),
    ("every 7 days", "WEEKLY", 7, [(M, "1")]),
    ("once a week at night", "WEEKLY", 7, [(NI, "1")]),
]

AS_NEEDED = ["PRN", "p.r.n.", "prn", "SOS", "as needed", "as required", "when needed", "q4-6h PRN",
             "1 tab PRN", "if needed"]  # fmt: skip

REFUSED = [
    "",
    "   ",
    "sometimes",
    "STAT",
    "twice weekly",
    "q5h",
    "q7h",
    "q0h",
    "every 4-6 hours",
    "0-0-0",
    "1-0-1-0-1",
    "1-x-1",
    "20-0-20",
    "once",
    "7 times a day",
    "every 90 days",
    "BIDD",
    "OD OD",
    "twice daily at bedtime",
    "x" * 100,
]


@pytest.mark.parametrize(("text", "notation", "every_days", "slots"), READS)
def test_a_notation_reads_as_its_schedule(
    text: str, notation: str, every_days: int, slots: list[tuple[time, str]]
) -> None:
    schedule = parse_frequency(text)
    assert schedule.notation == notation
    assert schedule.every_days == every_days
    assert not schedule.as_needed
    assert [(slot.at, slot.amount) for slot in schedule.slots] == [
        (at, Fraction(amount)) for at, amount in slots
    ]


def test_the_table_holds_at_least_sixty_notations() -> None:
    assert len(READS) + len(AS_NEEDED) >= 60


@pytest.mark.parametrize("text", AS_NEEDED)
def test_as_needed_has_no_schedule(text: str) -> None:
    schedule = parse_frequency(text)
    assert schedule.as_needed
    assert schedule.slots == ()
    assert schedule.notation == "PRN"
    assert schedule.doses_per_day == 0


@pytest.mark.parametrize("text", REFUSED)
def test_an_unknown_notation_is_refused_never_guessed(text: str) -> None:
    with pytest.raises(UnknownFrequency) as refused:
        parse_frequency(text)
    assert isinstance(refused.value, ValidationFailed)
    assert refused.value.code == "unknown_frequency"


def test_the_refusal_quotes_a_long_text_only_in_part() -> None:
    with pytest.raises(UnknownFrequency) as refused:
        parse_frequency("z" * 100)
    assert "z" * 41 not in str(refused.value)


def test_doses_per_day_counts_every_few_days_as_a_fraction() -> None:
    assert parse_frequency("TID").doses_per_day == 3
    assert parse_frequency("every other day").doses_per_day == Fraction(1, 2)
    assert parse_frequency("weekly").doses_per_day == Fraction(1, 7)
