"""Prescriptions' and doses' pure rules: items checked (a refusal names its item), the
lifecycle's moves, when doses fall in a time zone, what a mark records."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import msgspec
import pytest

from domain.doses.model import (
    Dose,
    DoseEventKind,
    DosePlan,
    DoseStatus,
    check_markable,
    check_taken_at,
    due_times,
    is_late,
    skip_reason,
    zone,
)
from domain.errors import InvalidTransition, ValidationFailed
from domain.medicines.model import DosageForm, MedicineFields, new_medicine
from domain.prescriptions.model import (
    ItemInput,
    PrescriptionStatus,
    check_transition,
    checked_items,
    dose_amount,
    new_prescription,
    with_items,
)

NOW = datetime(2031, 3, 9, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
AMOXICILLIN = new_medicine(
    MedicineFields(
        generic_name="amoxicillin",
        category="antibacterial",
        dosage_form=DosageForm.CAPSULE,
        strengths=("250 mg", "500 mg"),
    ),
    NOW,
)
CATALOGUE = {AMOXICILLIN.id: AMOXICILLIN}


def item(**changes) -> ItemInput:
    given = {
        "medicine_id": AMOXICILLIN.id,
        "strength": "500 MG",
        "dose_amount": "1",
        "dose_form": "capsule",
        "frequency": "TID",
        "start_date": TODAY,
        "duration_days": 7,
    }
    return ItemInput(**(given | changes))


def test_an_item_is_parsed_and_dated() -> None:
    [checked] = checked_items([item()], CATALOGUE, TODAY)
    assert checked.ends_on == TODAY + timedelta(days=6)
    assert checked.details.notation == "TID" and not checked.as_needed
    assert [at for at, _ in checked.details.slots] == [time(8), time(14), time(20)]
    [prn] = checked_items(
        [item(frequency="prn", end_date=TODAY, duration_days=None)], CATALOGUE, TODAY
    )
    assert prn.as_needed and prn.details.slots == () and prn.ends_on == TODAY


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"frequency": "whenever"}, "items[1].frequency"),
        ({"strength": "125 mg"}, "items[1].strength"),
        ({"medicine_id": uuid.uuid4()}, "items[1].medicineId"),
        ({"dose_amount": "0"}, "items[1].doseAmount"),
        ({"dose_amount": "1/0"}, "items[1].doseAmount"),
        ({"dose_amount": "abc"}, "items[1].doseAmount"),
        ({"end_date": TODAY}, "items[1]"),  # both a duration and an end date
        ({"duration_days": None}, "items[1]"),  # neither
        ({"duration_days": 400}, "items[1].durationDays"),
        ({"start_date": TODAY - timedelta(days=31)}, "items[1].startDate"),
        ({"duration_days": None, "end_date": TODAY - timedelta(days=1)}, "items[1].endDate"),
    ],
)
def test_a_bad_item_is_named(bad, field) -> None:
    with pytest.raises(ValidationFailed) as refused:
        checked_items([item(), item(**bad)], CATALOGUE, TODAY)
    assert refused.value.field == field


def test_dose_amounts() -> None:
    assert dose_amount("1/2", "x") == Fraction(1, 2)
    assert dose_amount("0.5", "x") == Fraction(1, 2)
    assert dose_amount(" 2 ", "x") == 2
    with pytest.raises(ValidationFailed):
        dose_amount("101", "x")


def test_the_lifecycle() -> None:
    draft = new_prescription(
        uuid.uuid4(), uuid.uuid4(), checked_items([item()], CATALOGUE, TODAY), NOW
    )
    assert check_transition(draft, "activate") is PrescriptionStatus.ACTIVE
    assert check_transition(draft, "cancel") is PrescriptionStatus.CANCELLED
    with pytest.raises(InvalidTransition):
        check_transition(draft, "complete")
    active = msgspec.structs.replace(draft, status=PrescriptionStatus.ACTIVE)
    with pytest.raises(InvalidTransition):
        with_items(active, active.items, NOW)  # only a draft is edited
    assert check_transition(active, "expire") is PrescriptionStatus.EXPIRED


def plan(*slots: time, every_days: int = 1, days: int = 3) -> DosePlan:
    start = date(2031, 10, 25)
    return DosePlan(
        slots=tuple((at, Fraction(1)) for at in slots),
        every_days=every_days,
        starts_on=start,
        ends_on=start + timedelta(days=days - 1),
    )


def test_doses_keep_local_time_across_the_autumn_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # 26 October 2031: 03:00 CEST -> 02:00 CET
    due = list(due_times(plan(time(8)), berlin, date(2031, 10, 1), date(2031, 12, 1)))
    assert [d.astimezone(berlin).time() for _, d, _ in due] == [time(8)] * 3
    assert [d.hour for _, d, _ in due] == [6, 7, 7]  # UTC


def test_every_other_day_counts_from_the_start_even_when_clipped() -> None:
    utc = ZoneInfo("UTC")
    every_other = plan(time(9), every_days=2, days=6)
    days = [day for day, _, _ in due_times(every_other, utc, date(2031, 10, 26), date(2031, 12, 1))]
    assert days == [date(2031, 10, 27), date(2031, 10, 29)]


def dose(**changes) -> Dose:
    given = {
        "id": uuid.uuid4(),
        "patient_id": uuid.uuid4(),
        "prescription_id": uuid.uuid4(),
        "item_id": uuid.uuid4(),
        "due_at": NOW,
        "local_date": TODAY,
        "amount": "1",
        "status": DoseStatus.SCHEDULED,
        "updated_at": NOW,
    }
    return Dose(**(given | changes))


def test_marks() -> None:
    assert check_markable(dose(), DoseEventKind.TAKEN) is DoseEventKind.TAKEN
    missed = dose(status=DoseStatus.MISSED)
    assert check_markable(missed, DoseEventKind.SKIPPED) is DoseEventKind.EDITED
    with pytest.raises(InvalidTransition):
        check_markable(dose(status=DoseStatus.CANCELLED), DoseEventKind.TAKEN)
    assert is_late(NOW, NOW + timedelta(minutes=61), timedelta(minutes=60))
    assert not is_late(NOW, NOW + timedelta(minutes=60), timedelta(minutes=60))
    with pytest.raises(ValidationFailed):
        check_taken_at(dose(), NOW + timedelta(hours=1), NOW)
    with pytest.raises(ValidationFailed):
        check_taken_at(dose(), NOW - timedelta(hours=13), NOW)
    with pytest.raises(ValidationFailed):
        check_taken_at(dose(), datetime(2031, 3, 9, 9, 0), NOW)  # no offset
    assert skip_reason("  too   sick ") == "too sick"


@pytest.mark.parametrize("name", ["Asia/Phnom_Penh", "America/New_York", "UTC"])
def test_iana_zones(name) -> None:
    assert zone(name).key == name


@pytest.mark.parametrize("name", ["", "GMT+7", "Asia/Nowhere", "/etc/localtime", "a" * 70])
def test_not_zones(name) -> None:
    with pytest.raises(ValidationFailed):
        zone(name)
