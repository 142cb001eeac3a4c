"""The catalogue's rules: what an entry may hold, how an edit is told apart, how a search is
read, and which interactions prescribing reports."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import ValidationFailed
from domain.medicines.interactions import warnings_for
from domain.medicines.model import (
    DosageForm,
    Interaction,
    MedicineChanges,
    MedicineFields,
    Severity,
    atc_code,
    edited,
    interaction_pair,
    new_medicine,
    query_words,
    search_text,
)

NOW = datetime(2031, 3, 9, 9, 0, tzinfo=UTC)


def fields(**changes) -> MedicineFields:
    given = {
        "generic_name": "Amoxicillin",
        "brand_names": ("Amoxil",),
        "category": "Antibacterial",
        "dosage_form": DosageForm.CAPSULE,
        "strengths": ("250 mg", "500 mg"),
        "atc_code": "j01ca04",
    }
    return MedicineFields(**(given | changes))


def test_a_new_entry_is_cleaned() -> None:
    medicine = new_medicine(fields(generic_name="  Amoxicillin   Trihydrate "), NOW)
    assert medicine.generic_name == "amoxicillin trihydrate"
    assert medicine.category == "antibacterial" and medicine.atc_code == "J01CA04"
    assert search_text(medicine) == "amoxicillin trihydrate amoxil j01ca04"


@pytest.mark.parametrize(
    "bad",
    [
        {"generic_name": "   "},
        {"strengths": ()},
        {"strengths": ("",)},
        {"category": "x" * 101},
        {"brand_names": tuple(f"b{n}" for n in range(21))},
        {"atc_code": "J1"},
        {"atc_code": "12345"},
    ],
)
def test_bad_fields_are_refused(bad) -> None:
    with pytest.raises(ValidationFailed):
        new_medicine(fields(**bad), NOW)


@pytest.mark.parametrize("code", ["N", "N02", "N02B", "N02BE", "N02BE01", " a07ca "])
def test_atc_codes_at_every_level(code) -> None:
    assert atc_code(code) == code.strip().upper()


def test_an_edit_names_what_changed_and_nothing_else() -> None:
    medicine = new_medicine(fields(), NOW)
    later = NOW + timedelta(hours=1)
    after, changed = edited(medicine, MedicineChanges(strengths=("500 mg",)), later)
    assert changed == ("strengths",) and after.updated_at == later
    same, nothing = edited(medicine, MedicineChanges(generic_name="AMOXICILLIN"), later)
    assert nothing == () and same is medicine
    cleared, changed = edited(medicine, MedicineChanges(clear_atc_code=True), later)
    assert cleared.atc_code is None and changed == ("atc_code",)


def test_a_query_is_its_words() -> None:
    assert query_words("Clav, AMOX clav") == ("clav", "amox")
    assert query_words(" -- ") == ()
    with pytest.raises(ValidationFailed):
        query_words("a" * 101)


def test_a_pair_is_stored_in_one_order() -> None:
    a, b = sorted((uuid.uuid4(), uuid.uuid4()), key=lambda u: u.int)
    assert interaction_pair(b, a) == interaction_pair(a, b) == (a, b)
    with pytest.raises(ValidationFailed):
        interaction_pair(a, a)


class Interactions:
    """The one repository method ``warnings_for`` uses, over a fixed list."""

    def __init__(self, *found: Interaction) -> None:
        self.found = found

    async def interactions_between(self, these, those) -> list[Interaction]:
        return [
            i
            for i in self.found
            if (i.first_id in these and i.second_id in those)
            or (i.second_id in these and i.first_id in those)
        ]


def interaction(a: uuid.UUID, b: uuid.UUID, severity: Severity) -> Interaction:
    first, second = interaction_pair(a, b)
    return Interaction(
        first_id=first, second_id=second, severity=severity, note="n", updated_at=NOW
    )


async def test_warnings_name_the_new_medicine_and_the_one_taken_most_severe_first() -> None:
    warfarin, aspirin, ibuprofen, paracetamol = (uuid.uuid4() for _ in range(4))
    repository = Interactions(
        interaction(warfarin, aspirin, Severity.MODERATE),
        interaction(warfarin, ibuprofen, Severity.MAJOR),
        interaction(paracetamol, aspirin, Severity.MINOR),  # neither is being added
    )
    warnings = await warnings_for(repository, [aspirin, ibuprofen], [warfarin, paracetamol])
    assert [(w.medicine_id, w.interacts_with, w.severity) for w in warnings] == [
        (ibuprofen, warfarin, Severity.MAJOR),
        (aspirin, warfarin, Severity.MODERATE),
        (aspirin, paracetamol, Severity.MINOR),
    ]
    assert await warnings_for(repository, [paracetamol], []) == []


async def test_two_new_medicines_that_interact_are_reported_once() -> None:
    warfarin, ibuprofen = uuid.uuid4(), uuid.uuid4()
    repository = Interactions(interaction(warfarin, ibuprofen, Severity.MAJOR))
    warnings = await warnings_for(repository, [warfarin, ibuprofen], [])
    assert len(warnings) == 1
