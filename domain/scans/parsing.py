"""OCR lines → a draft prescription: medication items, the prescriber, the patient's name, the
date. Pure code: the catalogue comes in as candidates, nothing is read or written.

Rows are rebuilt from the boxes (a table's cells join up), cleaned of OCR's confusions,
then read field by field. A row whose text names a catalogue medicine starts an item; a
following row without one (a "Sig:" line) adds to it. Each field carries a confidence: the
engine's for its row times how sure the reading is (a fuzzy name's similarity, a strength
the catalogue does not list, a dose only implied). A field below ``REVIEW_BELOW`` is
flagged for review and a field not found is empty and flagged: nothing is filled in silently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from domain.errors import ValidationFailed
from domain.prescriptions.frequency import parse_frequency
from domain.scans import fields
from domain.scans.layout import Row, page_rows
from domain.scans.matching import Catalogue, NameMatch
from domain.scans.model import (
    REVIEW_BELOW,
    Candidate,
    DraftItem,
    Field,
    MedicineMatch,
    OcrLine,
    ParsedPrescription,
)
from domain.scans.noise import clean_line

MAX_FREQUENCY_WORDS = 6
PRESCRIBER = re.compile(
    r"^(?:(?:prescriber|doctor|physician|signed|signature)\s*[:\-]?\s*)?"
    r"(dr\.?\s+[^,|]+?)(?:,|\s{2,}|\s+(?:md|mbbs|m\.d\.)\b|$)",
    re.IGNORECASE,
)
PATIENT = re.compile(
    r"\b(?:patient(?:'s)?(?:\s+name)?|name|pt)\s*[:\-]\s*"
    r"(.+?)(?=\s{2,}|\s+(?:date|age|sex|dob)\b|$)",
    re.IGNORECASE,
)
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTHS = {name: number for number, name in enumerate(MONTH_NAMES, start=1)}
DATES = re.compile(
    r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b|\b(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})\b"
    r"|\b(\d{1,2})\s+([A-Za-z]{3})[a-z]*\.?,?\s+(\d{4})\b",
)
HEADER_WORDS = re.compile(
    r"^(?:medicine|drug|name|dose|frequency|duration|qty|instructions)\b", re.IGNORECASE
)
ENUMERATION = re.compile(r"^\s*(?:\d{1,2}\s*[.)]|[-•*]|rx\b[:.]?|sig\b[:.]?)\s*", re.IGNORECASE)


def _found(value: str, row: Row, sure: float = 1.0, printed: str | None = None) -> Field:
    return Field.found(value, row.confidence * sure, printed)


def _date(text: str, row: Row) -> Field | None:
    match = DATES.search(text)
    if match is None:
        return None
    g = match.groups()
    sure = 1.0
    try:
        if g[0]:
            found = date(int(g[0]), int(g[1]), int(g[2]))
        elif g[3]:
            year = int(g[5]) + (2000 if len(g[5]) == 2 else 0)
            day, month = int(g[3]), int(g[4])
            if day <= 12 and month <= 12 and day != month:
                sure = 0.6  # day first is this platform's custom; month first is possible
            found = date(year, month, day)
        else:
            month_number = MONTHS.get(g[7].lower())
            if month_number is None:
                return None
            found = date(int(g[8]), month_number, int(g[6]))
    except ValueError:
        return None
    return _found(found.isoformat(), row, sure, match.group())


def _frequency(text: str, row: Row) -> tuple[Field, str | None]:
    """The longest run of words that the frequency parser reads."""
    words = text.split()
    for size in range(min(MAX_FREQUENCY_WORDS, len(words)), 0, -1):
        for start in range(len(words) - size + 1):
            phrase = " ".join(words[start : start + size])
            if not re.search(r"[A-Za-z]", phrase) and not re.search(r"\d\s*[-+]\s*\d", phrase):
                continue
            try:
                schedule = parse_frequency(phrase)
            except ValidationFailed:
                continue
            return _found(phrase, row, printed=phrase), schedule.notation
    return Field.missing(), None


def _without(text: str, *spans: fields.Found | None) -> str:
    chars = list(text)
    for span in spans:
        if span is not None:
            chars[span.start : span.end] = " " * (span.end - span.start)
    return "".join(chars)  # the same length: every span found in ``text`` still fits


def _medicine(
    match: NameMatch | None, form: str | None, strength: str | None, row: Row
) -> tuple[MedicineMatch, Candidate | None, bool]:
    """The catalogue entry, and whether the line decides its form (one entry left)."""
    if match is None:
        empty = MedicineMatch(medicine_id=None, name=None, printed="", confidence=0.0, review=True)
        return empty, None, False
    options = list(match.candidates)
    sure = match.similarity
    chosen = [c for c in options if c.dosage_form == form] if form else []
    if not chosen and strength:
        chosen = [c for c in options if _listed(strength, c) is not None]
    if not chosen:
        chosen = options
    decided = len({c.dosage_form for c in chosen}) == 1
    if not decided:
        sure *= 0.8  # the form decides the entry, and nothing on the line says which
    candidate = chosen[0]
    confidence = round(row.confidence * sure, 3)
    medicine = MedicineMatch(
        medicine_id=candidate.medicine_id,
        name=candidate.generic_name,
        printed=match.printed,
        confidence=confidence,
        review=confidence < REVIEW_BELOW,
    )
    return medicine, candidate, decided


def _listed(strength: str, candidate: Candidate) -> str | None:
    """The catalogue's spelling of a printed strength (an inhaler's is per dose), if listed."""
    for known in (strength, f"{strength}/dose"):
        if known in candidate.strengths:
            return known
    return None


def _item(text: str, row: Row, catalogue: Catalogue) -> DraftItem:
    name = catalogue.best(text)
    rest = text[name.end :] if name else text
    strength = fields.strength(rest)
    unstrengthed = _without(rest, strength)
    form = fields.form(rest)
    dose = fields.dose(unstrengthed)
    duration = fields.duration(unstrengthed)
    timing = fields.timing(unstrengthed)
    medicine, candidate, decided = _medicine(
        name, form.value if form else None, strength.value if strength else None, row
    )
    dose_span = dose[0] if dose else None
    meals = timing if timing and timing.value != "at_bedtime" else None  # bedtime is a time too
    frequency, notation = _frequency(_without(unstrengthed, meals, duration, dose_span, form), row)
    form_field = _form(form, candidate if decided else None, row)
    if dose is not None:
        amount, unit = dose
        dose_field, dose_form = _found(amount.value, row), _found(unit, row)
    else:  # dash slots say how many of the dose each time; else not printed: for review
        dose_field = _found("1", row, 0.9 if notation and "-" in notation else 0.6)
        dose_form = _dose_form(form_field, row)
    return DraftItem(
        line=text,
        medicine=medicine,
        strength=_strength(strength, candidate, row),
        form=form_field,
        dose_amount=dose_field,
        dose_form=dose_form,
        frequency=frequency,
        notation=notation,
        timing=_found(timing.value, row) if timing else Field.found("any", 1.0),
        duration_days=(
            _found(duration.value, row, duration.sure, rest[duration.start : duration.end])
            if duration
            else Field.missing()
        ),
    )


def _strength(strength: fields.Found | None, candidate: Candidate | None, row: Row) -> Field:
    if strength is None:
        return Field.missing()
    if candidate is None or not candidate.strengths:
        return _found(strength.value, row, 0.9, strength.value)
    listed = _listed(strength.value, candidate)
    if listed is None:  # not a strength of this medicine: misread, or the wrong match
        return _found(strength.value, row, 0.7, strength.value)
    return _found(listed, row, 1.0, strength.value)


def _form(form: fields.Found | None, candidate: Candidate | None, row: Row) -> Field:
    if form is not None:
        return _found(form.value, row)
    if candidate is not None:  # the one form the catalogue has for this name and strength
        return _found(candidate.dosage_form, row, 0.9)
    return Field.missing()


def _dose_form(form: Field, row: Row) -> Field:
    counted = {"tablet": "tablet", "capsule": "capsule", "inhaler": "puff", "oral_liquid": "mL"}
    if form.value is None:
        return Field.missing()
    for suffix, unit in counted.items():
        if form.value.endswith(suffix):
            return _found(unit, row, 0.9)
    return Field.missing()


def _continues(text: str) -> bool:
    """A row that adds to the item above it: instructions, a frequency, a duration."""
    if fields.duration(text) or fields.dose(text) or fields.timing(text):
        return True
    return _frequency(text, Row(text, 1.0))[1] is not None


def parse_prescription(
    lines: Sequence[OcrLine], candidates: Sequence[Candidate]
) -> ParsedPrescription:
    catalogue = Catalogue(candidates)
    prescriber = patient = when = None
    blocks: list[tuple[str, Row]] = []  # an item's text so far, and its first row
    for row in page_rows(lines):
        text = clean_line(row.text)
        if prescriber is None and (found := PRESCRIBER.search(text)):
            prescriber = _found(found.group(1).strip(), row, 1.0, found.group(1))
            continue
        if patient is None and (found := PATIENT.search(text)):
            patient = _found(found.group(1).strip(), row, 1.0, found.group(1))
            when = when or _date(text, row)
            continue
        if when is None and re.search(r"\bdate\b", text, re.IGNORECASE):
            when = _date(text, row)
            continue
        if HEADER_WORDS.match(text) and catalogue.best(text) is None:
            continue
        body = ENUMERATION.sub("", text)
        if catalogue.best(body) is not None or (fields.strength(body) and blocks == []):
            blocks.append((body, row))
        elif blocks and _continues(body):
            first, first_row = blocks[-1]
            joined = Row(f"{first}  {body}", min(first_row.confidence, row.confidence))
            blocks[-1] = (joined.text, joined)
        elif when is None and (found_date := _date(text, row)) is not None:
            when = found_date
    return ParsedPrescription(
        items=tuple(_item(text, row, catalogue) for text, row in blocks),
        prescriber=prescriber or Field.missing(),
        patient_name=patient or Field.missing(),
        date=when or Field.missing(),
    )
