"""How often a medicine is taken, parsed from what doctors write.

``parse_frequency("1-0-1")`` gives a ``Schedule``: the local times of day a dose falls
at (each with its multiple of the item's dose amount), every how many days, or "as
needed" with no schedule at all. Accepted notations, case and dots ignored:

- Latin and clinical abbreviations: OD QD daily, BID BD, TID TDS, QID QDS, QAM QPM,
  HS nocte mane, QOD EOD, QW, PRN SOS;
- intervals: q6h, q 8 h, q12hr, every 4 hours (divisors of 24), q24h, q48h, q72h;
- dash or plus slots (morning-noon-evening[-night]): 1-0-1, 1-1-1-1, 1/2-0-1/2, ½-0-1, 2+0+2;
- words: once daily, twice a day, three times per day, 2x/day, 4 times daily,
  every other day, alternate days, every 3 days, once a week, weekly, as needed;
- a once-a-day (or every-few-days) notation may name the time: "once daily at
  bedtime", "OD in the morning", "weekly in the evening".

Anything else raises ``UnknownFrequency``: a schedule is never guessed. Ranges
("every 4-6 hours") are as-needed only with PRN ("q4-6h PRN"); "twice weekly" and
"STAT" (one dose now) are not schedules this parser makes.

Pure code, no IO: the prescription use cases and the OCR parser both call it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from fractions import Fraction

from domain.errors import ValidationFailed


class UnknownFrequency(ValidationFailed):
    def __init__(self, text: str) -> None:
        shown = text if len(text) <= 40 else text[:40] + "…"
        super().__init__(
            f"the frequency {shown!r} is not a notation we read (for example OD, BID, TID, "
            "QID, q8h, 1-0-1, twice a day, every other day, weekly, PRN)",
            code="unknown_frequency",
            field="frequency",
        )


@dataclass(frozen=True, slots=True)
class Slot:
    """A dose at a local time of day: ``amount`` times the item's dose amount."""

    at: time
    amount: Fraction = Fraction(1)


@dataclass(frozen=True, slots=True)
class Schedule:
    slots: tuple[Slot, ...]
    every_days: int
    as_needed: bool
    notation: str  # canonical: OD, BID, TID, QID, Q6H, 1-0-1, EVERY_2_DAYS, WEEKLY, PRN ...

    @property
    def doses_per_day(self) -> Fraction:
        """Doses due per day on average (0 for as needed)."""
        return Fraction(len(self.slots), self.every_days) if self.slots else Fraction(0)


MORNING, NOON, AFTERNOON, EVENING, NIGHT = time(8), time(12), time(14), time(20), time(22)

# Doses spread over the waking day, by how many a day.
DAY_TIMES: dict[int, tuple[time, ...]] = {
    1: (MORNING,),
    2: (MORNING, EVENING),
    3: (MORNING, AFTERNOON, EVENING),
    4: (MORNING, NOON, time(16), EVENING),
}
# Dash slots: morning-noon-evening, or morning-noon-evening-night.
DASH_TIMES: dict[int, tuple[time, ...]] = {
    2: (MORNING, EVENING),
    3: (MORNING, AFTERNOON, EVENING),
    4: (MORNING, NOON, time(18), NIGHT),
}
DAILY_CODES = {1: "OD", 2: "BID", 3: "TID", 4: "QID"}

NUMBER_WORDS = {
    "once": 1, "one": 1, "twice": 2, "two": 2, "thrice": 3, "three": 3,
    "four": 4, "five": 5, "six": 6,
}  # fmt: skip
ABBREVIATIONS = {
    "od": 1, "qd": 1, "daily": 1, "qday": 1, "bid": 2, "bd": 2, "tid": 3, "tds": 3,
    "qid": 4, "qds": 4,
}  # fmt: skip
# Words naming the time of a once-a-day dose; alone they mean once daily at that time.
TIME_WORDS: list[tuple[str, time]] = [
    (r"(?:in the |every |each )?morning|mane|qam|am|with breakfast", MORNING),
    (r"(?:at )?(?:noon|midday)|with lunch", NOON),
    (r"(?:in the |every |each )?evening|qpm|pm|with dinner|with supper", EVENING),
    (r"(?:at )?(?:night|bedtime)|nightly|nocte|hs|qhs|at hs", NIGHT),
]
AS_NEEDED = r"(?:prn|sos|as needed|as required|when needed|if needed|when required)"

_PER_DAY = r"(?:daily|a day|per day|/ ?day|/ ?d|every day|each day|in a day)"
_COUNT = r"(\d+|once|one|twice|two|thrice|three|four|five|six)"
_TIMES = r"(?:\s*x\s*|\s*times?\s*|\s+)"
_EVERY_HOURS = r"q\s?(\d+)\s?(?:h|hr|hrs|hours?)|every (\d+) ?(?:h|hrs?|hours?)"
_EVERY_OTHER_DAY = r"qod|eod|every other day|every second day|(?:on )?alternate days?"
_WEEKLY = (
    r"(?:once |one time |1 ?x ?|1 time )?(?:a |per |every |each )?week(?:ly)?"
    r"|qw|q1w|qwk|every 7 days"
)


def _normalise(text: str) -> str:
    lowered = text.strip().lower().replace("½", "1/2").replace("¼", "1/4")
    lowered = re.sub(r"(?<=[a-z])\.(?=[a-z]|\s|$)", "", lowered)  # b.i.d. -> bid
    lowered = re.sub(r"[,;()]", " ", lowered)
    return re.sub(r"\s+", " ", lowered).strip()


def _count(word: str) -> int:
    return int(word) if word.isdigit() else NUMBER_WORDS[word]


def _time_word(text: str) -> time | None:
    for pattern, at in TIME_WORDS:
        if re.fullmatch(pattern, text):
            return at
    return None


def _split_time(text: str) -> tuple[str, time | None]:
    """``text`` without a trailing time-of-day phrase, and that time."""
    for pattern, at in TIME_WORDS:
        found = re.fullmatch(rf"(.+?)\s+(?:at |in the )?(?:{pattern})", text)
        if found:
            return found.group(1), at
    return text, None


def _daily(count: int, notation: str | None = None) -> Schedule | None:
    times = DAY_TIMES.get(count)
    if times is None:
        return None
    return Schedule(
        slots=tuple(Slot(at) for at in times),
        every_days=1,
        as_needed=False,
        notation=notation or DAILY_CODES[count],
    )


def _every_hours(hours: int) -> Schedule | None:
    if hours in (24, 48, 72):
        return _every_days(hours // 24)
    if hours < 1 or 24 % hours:
        return None
    start = MORNING.hour
    slots = sorted(time((start + step * hours) % 24) for step in range(24 // hours))
    return Schedule(
        slots=tuple(Slot(at) for at in slots),
        every_days=1,
        as_needed=False,
        notation=f"Q{hours}H",
    )


def _every_days(days: int, at: time = MORNING) -> Schedule | None:
    if not 1 <= days <= 31:
        return None
    notation = {1: "OD", 7: "WEEKLY"}.get(days, f"EVERY_{days}_DAYS")
    return Schedule(slots=(Slot(at),), every_days=days, as_needed=False, notation=notation)


def _amount(part: str) -> Fraction | None:
    found = re.fullmatch(r"(\d+)(?:/(\d+))?|(\d*)\.(\d+)", part)
    if not found:
        return None
    try:
        return Fraction(part)
    except (ValueError, ZeroDivisionError):
        return None


def _dashes(text: str) -> Schedule | None:
    parts = re.split(r"\s*[-+]\s*", text)
    if len(parts) not in DASH_TIMES:
        return None
    amounts = [_amount(part) for part in parts]
    if any(amount is None for amount in amounts):
        return None
    slots = tuple(
        Slot(at, amount)
        for at, amount in zip(DASH_TIMES[len(parts)], amounts, strict=True)
        if amount
    )
    if not slots or any(amount > 10 for amount in amounts if amount is not None):
        return None
    notation = "-".join(str(amount) for amount in amounts)
    return Schedule(slots=slots, every_days=1, as_needed=False, notation=notation)


def _base(text: str) -> Schedule | None:
    """Every notation except PRN and trailing times of day."""
    if text in ABBREVIATIONS:
        return _daily(ABBREVIATIONS[text])
    if re.fullmatch(r"[\d./\s+-]+", text) and re.search(r"[-+]", text):
        return _dashes(text)
    if found := re.fullmatch(_EVERY_HOURS, text):
        return _every_hours(int(found.group(1) or found.group(2)))
    if re.fullmatch(r"every hour|hourly|qh", text):
        return _every_hours(1)
    if re.fullmatch(_EVERY_OTHER_DAY, text):
        return _every_days(2)
    if found := re.fullmatch(r"(?:every|q) ?(\d+) ?(?:days?|d)", text):
        return _every_days(int(found.group(1)))
    if re.fullmatch(_WEEKLY, text):
        return _every_days(7)
    if re.fullmatch(r"(?:every|each) day|once|once a day|once daily|once per day|qday", text):
        return _daily(1) if text != "once" else None
    if found := re.fullmatch(rf"{_COUNT}{_TIMES}{_PER_DAY}", text):
        return _daily(_count(found.group(1)))
    if (at := _time_word(text)) is not None:
        return _every_days(1, at)
    return None


def parse_frequency(text: str) -> Schedule:
    """The schedule ``text`` names; ``UnknownFrequency`` if it names none."""
    normalised = _normalise(text)
    if not normalised or len(normalised) > 60:
        raise UnknownFrequency(text)
    if re.search(rf"(?:^|\s){AS_NEEDED}(?:$|\s)", normalised) or normalised in ("prn", "sos"):
        return Schedule(slots=(), every_days=1, as_needed=True, notation="PRN")
    schedule = _base(normalised)
    if schedule is None:
        head, at = _split_time(normalised)
        schedule = _base(head)
        if schedule is None or at is None or len(schedule.slots) != 1:
            raise UnknownFrequency(text)
        schedule = Schedule(
            slots=(Slot(at, schedule.slots[0].amount),),
            every_days=schedule.every_days,
            as_needed=False,
            notation=schedule.notation,
        )
    return schedule
