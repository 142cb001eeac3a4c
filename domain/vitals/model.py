"""A vital-sign reading and the rules it must keep to before it is stored.

A measurement is one of seven kinds, each its own struct tagged by ``type``
(the same tag on the wire and in the sealed JSON). A value outside the range a
living person can show (a systolic pressure of 900, an SpO2 of 120 %) is a
typing mistake, not a clinical finding: it is refused (ValidationFailed, a
422 naming the field) and never reaches the alert rules. The ranges are
deliberately wide; what is *worrying* is the alert rules' business
(domain/alerts/rules.py).
"""

from __future__ import annotations

import enum
import math
import uuid
from datetime import datetime, timedelta

import msgspec

from domain.errors import ValidationFailed


class VitalType(enum.StrEnum):
    BLOOD_PRESSURE = "blood_pressure"
    HEART_RATE = "heart_rate"
    TEMPERATURE = "temperature"
    BLOOD_SUGAR = "blood_sugar"
    SPO2 = "spo2"
    WEIGHT = "weight"
    HEIGHT = "height"


class SugarUnit(enum.StrEnum):
    MG_DL = "mg/dL"
    MMOL_L = "mmol/L"


class SugarContext(enum.StrEnum):
    """When blood sugar was measured: thresholds differ (ADA criteria)."""

    FASTING = "fasting"
    RANDOM = "random"
    POST_MEAL = "post_meal"


# Glucose: 1 mmol/L = 18.016 mg/dL (molar mass 180.16 g/mol); 18 is the clinical convention.
MG_DL_PER_MMOL_L = 18.0


class BloodPressure(msgspec.Struct, frozen=True, tag="blood_pressure", tag_field="type"):
    systolic: int  # mmHg
    diastolic: int  # mmHg


class HeartRate(msgspec.Struct, frozen=True, tag="heart_rate", tag_field="type"):
    bpm: int


class Temperature(msgspec.Struct, frozen=True, tag="temperature", tag_field="type"):
    celsius: float


class BloodSugar(msgspec.Struct, frozen=True, tag="blood_sugar", tag_field="type"):
    value: float
    unit: SugarUnit
    context: SugarContext

    @property
    def mg_dl(self) -> float:
        """The value in mg/dL, whatever unit it was given in."""
        return self.value if self.unit is SugarUnit.MG_DL else self.value * MG_DL_PER_MMOL_L


class OxygenSaturation(msgspec.Struct, frozen=True, tag="spo2", tag_field="type"):
    percent: int


class Weight(msgspec.Struct, frozen=True, tag="weight", tag_field="type"):
    kg: float


class Height(msgspec.Struct, frozen=True, tag="height", tag_field="type"):
    cm: float


Measurement = (
    BloodPressure | HeartRate | Temperature | BloodSugar | OxygenSaturation | Weight | Height
)


def type_of(measurement: Measurement) -> VitalType:
    return VitalType(type(measurement).__struct_config__.tag)


def quantities(measurement: Measurement) -> dict[str, float]:
    """The numbers alert rules look at, by name; blood sugar in mg/dL, also under its context
    (``fasting_mg_dl`` ...) since its targets depend on when it was measured."""
    if isinstance(measurement, BloodSugar):
        return {"mg_dl": measurement.mg_dl, f"{measurement.context.value}_mg_dl": measurement.mg_dl}
    return {field: float(getattr(measurement, field)) for field in measurement.__struct_fields__}


# (lowest, highest) a living adult or child can show; outside: a mistake, refused.
PLAUSIBLE: dict[tuple[VitalType, str], tuple[float, float]] = {
    (VitalType.BLOOD_PRESSURE, "systolic"): (40, 300),
    (VitalType.BLOOD_PRESSURE, "diastolic"): (20, 200),
    (VitalType.HEART_RATE, "bpm"): (20, 300),
    (VitalType.TEMPERATURE, "celsius"): (25.0, 45.0),
    (VitalType.SPO2, "percent"): (50, 100),
    (VitalType.WEIGHT, "kg"): (0.5, 500.0),
    (VitalType.HEIGHT, "cm"): (20.0, 272.0),
}
# Blood sugar by unit: 10 to 1,500 mg/dL (the highest survived values are near 2,600, but a
# meter reads "HI" above ~600; 1,500 leaves room for lab values).
SUGAR_PLAUSIBLE: dict[SugarUnit, tuple[float, float]] = {
    SugarUnit.MG_DL: (10.0, 1500.0),
    SugarUnit.MMOL_L: (0.5, 83.0),
}
# A device's clock may run a little ahead of ours; a reading from further ahead is refused.
FUTURE_TOLERANCE = timedelta(minutes=5)
OLDEST = timedelta(days=366 * 10)  # a back-filled logbook, but not a typo'd century


def _check_range(field: str, value: float, low: float, high: float) -> None:
    if not math.isfinite(value) or not low <= value <= high:
        raise ValidationFailed(
            f"{field} must be between {low:g} and {high:g}", field=f"reading.{field}"
        )


def check_measurement(measurement: Measurement) -> None:
    """Raise ValidationFailed naming the field when a value cannot be a real reading."""
    kind = type_of(measurement)
    if isinstance(measurement, BloodSugar):
        low, high = SUGAR_PLAUSIBLE[measurement.unit]
        _check_range("value", measurement.value, low, high)
        return
    for field in measurement.__struct_fields__:
        low, high = PLAUSIBLE[(kind, field)]
        _check_range(field, getattr(measurement, field), low, high)
    if isinstance(measurement, BloodPressure) and measurement.diastolic >= measurement.systolic:
        raise ValidationFailed("diastolic must be below systolic", field="reading.diastolic")


def check_measured_at(measured_at: datetime, now: datetime) -> None:
    if measured_at.tzinfo is None:
        raise ValidationFailed("measuredAt needs its UTC offset", field="measuredAt")
    if measured_at > now + FUTURE_TOLERANCE:
        raise ValidationFailed("measuredAt is in the future", field="measuredAt")
    if measured_at < now - OLDEST:
        raise ValidationFailed("measuredAt is more than ten years ago", field="measuredAt")


class Recorder(enum.StrEnum):
    """Who recorded a reading: the patient themself or a connected doctor."""

    PATIENT = "patient"
    DOCTOR = "doctor"


class Reading(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    patient_id: uuid.UUID
    measurement: Measurement
    measured_at: datetime
    recorded_by: uuid.UUID | None  # None once the recorder's account is gone
    recorder: Recorder
    created_at: datetime

    @property
    def type(self) -> VitalType:
        return type_of(self.measurement)


def new_reading(
    patient_id: uuid.UUID,
    measurement: Measurement,
    measured_at: datetime,
    *,
    recorded_by: uuid.UUID,
    recorder: Recorder,
    now: datetime,
) -> Reading:
    """A checked reading; raises ValidationFailed for an impossible value or time."""
    check_measurement(measurement)
    check_measured_at(measured_at, now)
    return Reading(
        id=uuid.uuid4(),
        patient_id=patient_id,
        measurement=measurement,
        measured_at=measured_at,
        recorded_by=recorded_by,
        recorder=recorder,
        created_at=now,
    )


PAGE_MAX = 100


class ReadingFilter(msgspec.Struct, frozen=True, kw_only=True):
    """A patient's readings, newest measured first; ``since`` inclusive, ``until`` exclusive."""

    type: VitalType | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    cursor: str | None = None

    def checked(self) -> ReadingFilter:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValidationFailed("since must be before until", field="since")
        return self


class ReadingPage(msgspec.Struct, frozen=True):
    items: list[Reading]
    next_cursor: str | None
