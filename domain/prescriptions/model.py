"""Prescriptions: a doctor's items for a patient, their lifecycle and their checks.

``draft → active → completed | expired | cancelled``; only a draft is edited. An item
names a catalogue medicine in one of its strengths, a dose (an amount and its form: 1
tablet, 5 mL, 2 puffs), a frequency as doctors write it (parsed into a schedule by
``frequency.parse_frequency``; unparseable: a 422 naming the item), when to take it
relative to meals, a start date and a duration or an end date, and instructions.
Everything that identifies the treatment is sealed at rest as one value per item.

A prescription's ``source`` says where it came from: written here by a doctor (``manual``),
or confirmed from a scanned paper prescription (``scan``). A patient who confirms their own
scan keeps a record of a paper prescription: no doctor of ours wrote it, so it has no
``doctor_id``; the prescriber is the name printed on the paper (``prescriber_as_printed``,
sealed at rest), and the patient is its owner: they edit, activate, complete and cancel it.
"""

from __future__ import annotations

import enum
import re
import uuid
from datetime import date, datetime, time, timedelta
from fractions import Fraction

import msgspec

from domain.errors import InvalidTransition, ValidationFailed
from domain.medicines.model import Medicine
from domain.prescriptions.frequency import UnknownFrequency, parse_frequency

MAX_ITEMS = 20
MAX_DURATION_DAYS = 366
MAX_START_BEFORE_TODAY = timedelta(days=30)
MAX_START_AFTER_TODAY = timedelta(days=366)
MAX_INSTRUCTIONS = 500
MAX_DOSE_FORM = 50
MAX_DOSE_AMOUNT = Fraction(100)


class PrescriptionStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class PrescriptionSource(enum.StrEnum):
    MANUAL = "manual"  # a doctor wrote it here
    SCAN = "scan"  # confirmed from a scanned paper prescription, by the patient or a doctor


MAX_PRESCRIBER_AS_PRINTED = 200

LIVE = frozenset({PrescriptionStatus.DRAFT, PrescriptionStatus.ACTIVE})

# transition -> (the statuses it starts from, the status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[PrescriptionStatus], PrescriptionStatus]] = {
    "activate": (frozenset({PrescriptionStatus.DRAFT}), PrescriptionStatus.ACTIVE),
    "complete": (frozenset({PrescriptionStatus.ACTIVE}), PrescriptionStatus.COMPLETED),
    "cancel": (LIVE, PrescriptionStatus.CANCELLED),
    "expire": (LIVE, PrescriptionStatus.EXPIRED),
}


class Timing(enum.StrEnum):
    ANY = "any"
    BEFORE_MEALS = "before_meals"
    WITH_MEALS = "with_meals"
    AFTER_MEALS = "after_meals"
    EMPTY_STOMACH = "empty_stomach"
    AT_BEDTIME = "at_bedtime"


class ItemInput(msgspec.Struct, frozen=True, kw_only=True):
    """An item as a doctor writes it."""

    medicine_id: uuid.UUID
    strength: str
    dose_amount: str  # "1", "0.5", "1/2"
    dose_form: str  # tablet, mL, puff ...
    frequency: str
    timing: Timing = Timing.ANY
    start_date: date
    duration_days: int | None = None
    end_date: date | None = None
    instructions: str = ""


class ItemDetails(msgspec.Struct, frozen=True, kw_only=True):
    """What identifies the treatment: sealed at rest, as one value."""

    medicine_id: uuid.UUID
    strength: str
    dose_amount: str
    dose_form: str
    frequency: str  # as written
    notation: str  # as parsed: OD, BID, 1-0-1, PRN ...
    slots: tuple[tuple[time, str], ...]  # local time, multiple of the dose amount
    every_days: int
    timing: Timing
    instructions: str


class Item(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    position: int
    starts_on: date
    ends_on: date
    as_needed: bool
    details: ItemDetails
    doses_until: date | None = None  # the last local day whose doses exist


class Prescription(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    patient_id: uuid.UUID
    doctor_id: uuid.UUID | None  # None: the patient's own record of a paper prescription
    status: PrescriptionStatus
    starts_on: date
    ends_on: date
    items: tuple[Item, ...]
    created_at: datetime
    updated_at: datetime
    activated_at: datetime | None = None
    source: PrescriptionSource = PrescriptionSource.MANUAL
    prescriber_as_printed: str | None = None  # the name on a scanned paper, as confirmed

    @property
    def owner_id(self) -> uuid.UUID:
        """Who writes it: its prescribing doctor, or the patient when no doctor of ours did."""
        return self.doctor_id if self.doctor_id is not None else self.patient_id


class PrescriptionEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One change in a prescription's history."""

    action: str
    actor_id: str
    from_status: PrescriptionStatus | None
    to_status: PrescriptionStatus
    changed_fields: tuple[str, ...]
    at: datetime


_AMOUNT = re.compile(r"(\d{1,3})(?:\.(\d{1,3}))?|(\d{1,3})/(\d{1,3})")


def dose_amount(text: str, field: str) -> Fraction:
    match = _AMOUNT.fullmatch(text.strip())
    if match is None:
        raise ValidationFailed(f"{field} is a number such as 1, 0.5 or 1/2", field=field)
    whole, decimals, numerator, denominator = match.groups()
    if numerator is not None:
        if int(denominator) == 0:
            raise ValidationFailed(f"{field} divides by zero", field=field)
        amount = Fraction(int(numerator), int(denominator))
    else:
        amount = Fraction(f"{whole}.{decimals or 0}")
    if not 0 < amount <= MAX_DOSE_AMOUNT:
        raise ValidationFailed(f"{field} is above 0 and at most 100", field=field)
    return amount


def _text(value: str, field: str, limit: int, *, blank: bool = False) -> str:
    cleaned = " ".join(value.split())
    if not cleaned and not blank:
        raise ValidationFailed(f"{field} must not be blank", field=field)
    if len(cleaned) > limit:
        raise ValidationFailed(f"{field} is at most {limit} characters", field=field)
    return cleaned


def _same_strength(a: str, b: str) -> bool:
    return " ".join(a.lower().split()) == " ".join(b.lower().split())


def _end_date(item: ItemInput, field: str) -> date:
    if (item.duration_days is None) == (item.end_date is None):
        raise ValidationFailed(f"{field}: give durationDays or endDate, one of them", field=field)
    if item.duration_days is not None:
        if not 1 <= item.duration_days <= MAX_DURATION_DAYS:
            raise ValidationFailed(
                f"{field}.durationDays is 1 to {MAX_DURATION_DAYS}", field=f"{field}.durationDays"
            )
        return item.start_date + timedelta(days=item.duration_days - 1)
    assert item.end_date is not None
    if item.end_date < item.start_date:
        raise ValidationFailed(f"{field}.endDate is before its startDate", field=f"{field}.endDate")
    if (item.end_date - item.start_date).days >= MAX_DURATION_DAYS:
        raise ValidationFailed(
            f"{field} lasts at most {MAX_DURATION_DAYS} days", field=f"{field}.endDate"
        )
    return item.end_date


def checked_item(
    item: ItemInput, position: int, medicines: dict[uuid.UUID, Medicine], today: date
) -> Item:
    """The item ready to store, or ValidationFailed naming it (``items[2].frequency``)."""
    field = f"items[{position}]"
    medicine = medicines.get(item.medicine_id)
    if medicine is None:
        raise ValidationFailed(
            f"{field}.medicineId is not in the catalogue", field=f"{field}.medicineId"
        )
    if not any(_same_strength(item.strength, known) for known in medicine.strengths):
        raise ValidationFailed(
            f"{field}.strength is not one of the medicine's strengths "
            f"({'; '.join(medicine.strengths)})",
            field=f"{field}.strength",
        )
    try:
        schedule = parse_frequency(item.frequency)
    except UnknownFrequency as exc:
        raise ValidationFailed(
            f"{field}: {exc.message}", code=exc.code, field=f"{field}.frequency"
        ) from None
    amount = dose_amount(item.dose_amount, f"{field}.doseAmount")
    if not today - MAX_START_BEFORE_TODAY <= item.start_date <= today + MAX_START_AFTER_TODAY:
        raise ValidationFailed(
            f"{field}.startDate is at most 30 days ago and at most a year ahead",
            field=f"{field}.startDate",
        )
    ends_on = _end_date(item, field)
    return Item(
        id=uuid.uuid4(),
        position=position,
        starts_on=item.start_date,
        ends_on=ends_on,
        as_needed=schedule.as_needed,
        details=ItemDetails(
            medicine_id=medicine.id,
            strength=_text(item.strength, f"{field}.strength", 100),
            dose_amount=str(amount),
            dose_form=_text(item.dose_form, f"{field}.doseForm", MAX_DOSE_FORM),
            frequency=_text(item.frequency, f"{field}.frequency", 100),
            notation=schedule.notation,
            slots=tuple((slot.at, str(slot.amount)) for slot in schedule.slots),
            every_days=schedule.every_days,
            timing=item.timing,
            instructions=_text(
                item.instructions, f"{field}.instructions", MAX_INSTRUCTIONS, blank=True
            ),
        ),
    )


def checked_items(
    items: list[ItemInput], medicines: dict[uuid.UUID, Medicine], today: date
) -> tuple[Item, ...]:
    if not 1 <= len(items) <= MAX_ITEMS:
        raise ValidationFailed(f"a prescription has 1 to {MAX_ITEMS} items", field="items")
    return tuple(checked_item(item, n, medicines, today) for n, item in enumerate(items))


def prescriber_as_printed(value: str | None) -> str | None:
    """The printed prescriber's name, cleaned; None when blank (a paper without a legible one)."""
    if value is None:
        return None
    cleaned = _text(value, "prescriberAsPrinted", MAX_PRESCRIBER_AS_PRINTED, blank=True)
    return cleaned or None


def new_prescription(
    patient_id: uuid.UUID,
    doctor_id: uuid.UUID | None,
    items: tuple[Item, ...],
    now: datetime,
    *,
    source: PrescriptionSource = PrescriptionSource.MANUAL,
    printed_prescriber: str | None = None,
) -> Prescription:
    if doctor_id is None and source is not PrescriptionSource.SCAN:
        raise ValueError("only a scanned paper prescription has no prescribing doctor")
    return Prescription(
        id=uuid.uuid4(),
        patient_id=patient_id,
        doctor_id=doctor_id,
        status=PrescriptionStatus.DRAFT,
        starts_on=min(item.starts_on for item in items),
        ends_on=max(item.ends_on for item in items),
        items=items,
        created_at=now,
        updated_at=now,
        source=source,
        prescriber_as_printed=printed_prescriber,
    )


def with_items(prescription: Prescription, items: tuple[Item, ...], now: datetime) -> Prescription:
    check_editable(prescription)
    return msgspec.structs.replace(
        prescription,
        items=items,
        starts_on=min(item.starts_on for item in items),
        ends_on=max(item.ends_on for item in items),
        updated_at=now,
    )


def check_editable(prescription: Prescription) -> None:
    if prescription.status is not PrescriptionStatus.DRAFT:
        raise InvalidTransition(f"only a draft is edited; this one is {prescription.status.value}")


def check_transition(prescription: Prescription, transition: str) -> PrescriptionStatus:
    sources, target = TRANSITIONS[transition]
    if prescription.status not in sources:
        raise InvalidTransition(
            f"cannot {transition} a prescription that is {prescription.status.value}"
        )
    return target


MAX_BATCH_PATIENTS = 500


class BatchOutcome(enum.StrEnum):
    CREATED = "created"
    REFUSED = "refused"


class BatchPatient(msgspec.Struct, frozen=True, kw_only=True):
    """One patient of a batch, and what became of them (None: not yet reached)."""

    position: int
    patient_id: uuid.UUID
    outcome: BatchOutcome | None = None
    prescription_id: uuid.UUID | None = None
    reason: str | None = None  # a code, never PHI: not_connected, invalid_item ...


class Batch(msgspec.Struct, frozen=True, kw_only=True):
    """A doctor's command to prescribe ``items`` to each of ``patients``."""

    id: uuid.UUID
    doctor_id: uuid.UUID
    activate: bool
    items: tuple[ItemInput, ...]
    patients: tuple[BatchPatient, ...]
    created_at: datetime


def new_batch(
    doctor_id: uuid.UUID,
    patient_ids: list[uuid.UUID],
    items: list[ItemInput],
    activate: bool,
    now: datetime,
) -> Batch:
    unique = list(dict.fromkeys(patient_ids))
    if not 1 <= len(unique) <= MAX_BATCH_PATIENTS:
        raise ValidationFailed(
            f"a batch names 1 to {MAX_BATCH_PATIENTS} different patients", field="patientIds"
        )
    return Batch(
        id=uuid.uuid4(),
        doctor_id=doctor_id,
        activate=activate,
        items=tuple(items),
        patients=tuple(
            BatchPatient(position=n, patient_id=patient) for n, patient in enumerate(unique)
        ),
        created_at=now,
    )
