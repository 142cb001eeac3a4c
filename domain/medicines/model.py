"""Catalogue entries and interactions, and the rules their fields follow.

An entry is one generic in one dosage form (amoxicillin capsules and amoxicillin oral
liquid are two entries), with its strengths as written on the pack. The catalogue is
not PHI: it names no patient. An interaction is recorded once per unordered pair.
"""

from __future__ import annotations

import enum
import re
import unicodedata
import uuid
from datetime import datetime

import msgspec

from domain.errors import ValidationFailed

MAX_NAME = 200
MAX_BRANDS = 20
MAX_STRENGTHS = 20
MAX_STRENGTH = 100
MAX_CATEGORY = 100
MAX_NOTE = 2000
MAX_QUERY = 100
# An ATC code at any of its levels: A, A01, A01A, A01AA, A01AA01.
ATC_CODE = re.compile(r"[A-Z](?:\d{2}(?:[A-Z](?:[A-Z](?:\d{2})?)?)?)?")


class DosageForm(enum.StrEnum):
    TABLET = "tablet"
    CAPSULE = "capsule"
    ORAL_LIQUID = "oral_liquid"
    ORAL_POWDER = "oral_powder"
    DISPERSIBLE_TABLET = "dispersible_tablet"
    CHEWABLE_TABLET = "chewable_tablet"
    MODIFIED_RELEASE_TABLET = "modified_release_tablet"
    SUBLINGUAL_TABLET = "sublingual_tablet"
    INHALER = "inhaler"
    NEBULISER_SOLUTION = "nebuliser_solution"


class Severity(enum.StrEnum):
    """How much an interaction matters, mildest first."""

    MINOR = "minor"
    MODERATE = "moderate"
    MAJOR = "major"
    CONTRAINDICATED = "contraindicated"


class Medicine(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    generic_name: str
    brand_names: tuple[str, ...]
    category: str
    dosage_form: DosageForm
    strengths: tuple[str, ...]
    atc_code: str | None
    created_at: datetime
    updated_at: datetime


class MedicineFields(msgspec.Struct, frozen=True, kw_only=True):
    """What an admin writes; every field checked by ``checked_fields``."""

    generic_name: str
    brand_names: tuple[str, ...] = ()
    category: str
    dosage_form: DosageForm
    strengths: tuple[str, ...]
    atc_code: str | None = None


class MedicineChanges(msgspec.Struct, frozen=True, kw_only=True):
    """An edit: the fields given, the rest unchanged."""

    generic_name: str | None = None
    brand_names: tuple[str, ...] | None = None
    category: str | None = None
    dosage_form: DosageForm | None = None
    strengths: tuple[str, ...] | None = None
    atc_code: str | None = None
    clear_atc_code: bool = False


class Interaction(msgspec.Struct, frozen=True, kw_only=True):
    """Two medicines that should not be taken together lightly; ``first_id < second_id``."""

    first_id: uuid.UUID
    second_id: uuid.UUID
    severity: Severity
    note: str
    updated_at: datetime


class InteractionWarning(msgspec.Struct, frozen=True, kw_only=True):
    """A medicine being prescribed interacts with one the patient already takes."""

    medicine_id: uuid.UUID  # the one being prescribed
    interacts_with: uuid.UUID  # the one already active
    severity: Severity
    note: str


def _text(value: str, field: str, limit: int) -> str:
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValidationFailed(f"{field} must not hold control characters", field=field)
    cleaned = " ".join(value.split())
    if not cleaned:
        raise ValidationFailed(f"{field} must not be blank", field=field)
    if len(cleaned) > limit:
        raise ValidationFailed(f"{field} is at most {limit} characters", field=field)
    return cleaned


def _texts(values: tuple[str, ...], field: str, limit: int, most: int) -> tuple[str, ...]:
    if len(values) > most:
        raise ValidationFailed(f"{field} holds at most {most} entries", field=field)
    cleaned = tuple(dict.fromkeys(_text(value, field, limit) for value in values))
    return cleaned


def atc_code(value: str | None) -> str | None:
    if value is None:
        return None
    code = value.strip().upper()
    if not ATC_CODE.fullmatch(code):
        raise ValidationFailed("atcCode is not an ATC code (e.g. N02BE01)", field="atcCode")
    return code


def checked_fields(fields: MedicineFields) -> MedicineFields:
    """The fields cleaned (spaces collapsed, names in lower case) or ValidationFailed."""
    strengths = _texts(fields.strengths, "strengths", MAX_STRENGTH, MAX_STRENGTHS)
    if not strengths:
        raise ValidationFailed("a medicine has at least one strength", field="strengths")
    return MedicineFields(
        generic_name=_text(fields.generic_name, "genericName", MAX_NAME).lower(),
        brand_names=_texts(fields.brand_names, "brandNames", MAX_NAME, MAX_BRANDS),
        category=_text(fields.category, "category", MAX_CATEGORY).lower(),
        dosage_form=fields.dosage_form,
        strengths=strengths,
        atc_code=atc_code(fields.atc_code),
    )


def new_medicine(fields: MedicineFields, now: datetime) -> Medicine:
    checked = checked_fields(fields)
    return Medicine(
        id=uuid.uuid4(), created_at=now, updated_at=now, **msgspec.structs.asdict(checked)
    )


def edited(
    medicine: Medicine, changes: MedicineChanges, now: datetime
) -> tuple[Medicine, tuple[str, ...]]:
    """The medicine after ``changes``, and the names of the fields that changed."""
    current = MedicineFields(
        generic_name=medicine.generic_name,
        brand_names=medicine.brand_names,
        category=medicine.category,
        dosage_form=medicine.dosage_form,
        strengths=medicine.strengths,
        atc_code=medicine.atc_code,
    )
    given = {
        name: value
        for name, value in msgspec.structs.asdict(changes).items()
        if value is not None and name != "clear_atc_code"
    }
    if changes.clear_atc_code:
        given["atc_code"] = None
    checked = checked_fields(msgspec.structs.replace(current, **given))
    changed = tuple(
        name
        for name, value in msgspec.structs.asdict(checked).items()
        if getattr(medicine, name) != value
    )
    if not changed:
        return medicine, ()
    return msgspec.structs.replace(
        medicine, updated_at=now, **msgspec.structs.asdict(checked)
    ), changed


def search_text(medicine: Medicine | MedicineFields) -> str:
    """What a search matches: the generic name, the brands and the ATC code, in lower case."""
    parts = [medicine.generic_name, *medicine.brand_names, medicine.atc_code or ""]
    return " ".join(" ".join(parts).lower().split())


def query_words(query: str) -> tuple[str, ...]:
    """A search's words, in lower case, at most five (none: the query matches nothing)."""
    words = tuple(dict.fromkeys(re.findall(r"[^\W_]+", query.lower())))
    if len(query) > MAX_QUERY:
        raise ValidationFailed(f"q is at most {MAX_QUERY} characters", field="q")
    return words[:5]


def interaction_pair(a: uuid.UUID, b: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """The pair in its stored order; a medicine does not interact with itself."""
    if a == b:
        raise ValidationFailed("an interaction is between two different medicines", field="otherId")
    return (a, b) if a.int < b.int else (b, a)


def interaction_note(note: str) -> str:
    return _text(note, "note", MAX_NOTE)
