"""The fields of one medication line, each found by its own pattern in the cleaned text:
strength, form, dose, duration, timing. Each returns what it found and where, so what is
left can be read for the frequency."""

from __future__ import annotations

import re
from dataclasses import dataclass

UNIT_NAMES = {"mg": "mg", "mcg": "micrograms", "microgram": "micrograms",
              "micrograms": "micrograms", "g": "g", "ml": "mL", "iu": "IU", "%": "%"}  # fmt: skip
STRENGTH = re.compile(
    r"(?<![\d.])(\d+(?:\.\d+)?)\s*(mg|mcg|micrograms?|g|ml|iu|%)"
    r"(?:\s*/\s*(\d+(?:\.\d+)?)?\s*(ml|dose))?(?![a-z])",
    re.IGNORECASE,
)
FORMS: list[tuple[str, str]] = [
    (r"dispersible", "dispersible_tablet"),
    (r"chewable", "chewable_tablet"),
    (r"(?:sr|mr|xr|er|modified[- ]release)\b", "modified_release_tablet"),
    (r"(?:sl|sublingual)\b", "sublingual_tablet"),
    (r"(?:tab|tabs|tablets?)\b", "tablet"),
    (r"(?:cap|caps|capsules?)\b", "capsule"),
    (r"(?:syrup|syp|susp|suspension|oral (?:solution|liquid)|elixir|solution)\b", "oral_liquid"),
    (r"(?:inhaler|mdi|puffs?|inh)\b", "inhaler"),
    (r"(?:neb|nebuli[sz]er|nebules?)\b", "nebuliser_solution"),
    (r"(?:sachets?|powder)\b", "oral_powder"),
]
DOSE_UNITS = {"tab": "tablet", "tabs": "tablet", "tablet": "tablet", "tablets": "tablet",
              "cap": "capsule", "caps": "capsule", "capsule": "capsule", "capsules": "capsule",
              "puff": "puff", "puffs": "puff", "ml": "mL", "sachet": "sachet",
              "sachets": "sachet", "drop": "drop", "drops": "drop"}  # fmt: skip
NUMBER_WORDS = {"one": "1", "two": "2", "three": "3", "half": "1/2", "½": "1/2"}
DOSE = re.compile(
    r"(?<![\d/.])(\d+(?:\.\d+)?|\d/\d|½|one|two|three|half)\s*"
    r"(tabs?|tablets?|caps?|capsules?|puffs?|ml|sachets?|drops?)\b",
    re.IGNORECASE,
)
DURATION = re.compile(
    r"(?:(?:x|for|during)\s*)?(?<![\d/])(\d{1,3})\s*(days?|d|weeks?|wks?|months?|mo)\b"
    r"|(?<![\d/])(\d{1,3})\s*/\s*(7|52|12)(?![\d/])",
    re.IGNORECASE,
)
DAYS_PER = {"d": 1, "day": 1, "days": 1, "7": 1, "w": 7, "wk": 7, "wks": 7, "week": 7,
            "weeks": 7, "52": 7, "mo": 30, "month": 30, "months": 30, "12": 30}  # fmt: skip
TIMINGS: list[tuple[str, str]] = [
    (r"before (?:meals?|food|eating|breakfast)|\bac\b|a\.c\.", "before_meals"),
    (r"after (?:meals?|food|eating|breakfast|dinner)|\bpc\b|p\.c\.", "after_meals"),
    (r"with (?:meals?|food)", "with_meals"),
    (r"(?:on an? )?empty stomach", "empty_stomach"),
    (r"at bedtime|\bhs\b|nocte", "at_bedtime"),
]


@dataclass(frozen=True, slots=True)
class Found:
    value: str
    start: int
    end: int
    sure: float = 1.0  # how far the pattern alone is sure of the reading


def strength(text: str) -> Found | None:
    match = STRENGTH.search(text)
    if match is None:
        return None
    amount, unit, per, per_unit = match.groups()
    value = f"{amount} {UNIT_NAMES[unit.lower()]}"
    if per_unit:
        value += f"/{per + ' ' if per else ''}{'mL' if per_unit.lower() == 'ml' else 'dose'}"
    return Found(value, match.start(), match.end())


def form(text: str) -> Found | None:
    for pattern, name in FORMS:
        match = re.search(rf"\b{pattern}", text, re.IGNORECASE)
        if match:
            return Found(name, match.start(), match.end())
    return None


def dose(text: str) -> tuple[Found, str] | None:
    """The amount a dose is (``1``, ``1/2``) and what it counts (tablet, mL, puff)."""
    match = DOSE.search(text)
    if match is None:
        return None
    amount = NUMBER_WORDS.get(match.group(1).lower(), match.group(1))
    return Found(amount, match.start(), match.end()), DOSE_UNITS[match.group(2).lower()]


def duration(text: str) -> Found | None:
    match = DURATION.search(text)
    if match is None:
        return None
    count = int(match.group(1) or match.group(3))
    unit = (match.group(2) or match.group(4)).lower()
    days = count * DAYS_PER[unit]
    sure = 0.9 if DAYS_PER[unit] == 30 else 1.0  # a month read as 30 days: a person checks
    if not 1 <= days <= 366:
        return None
    return Found(str(days), match.start(), match.end(), sure)


def timing(text: str) -> Found | None:
    for pattern, name in TIMINGS:
        match = re.search(pattern, text, re.IGNORECASE)
        if match:
            return Found(name, match.start(), match.end())
    return None
