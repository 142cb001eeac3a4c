"""The default alert thresholds and a doctor's overrides, as a table: reading -> what it raises.

Pure rules (no IO): ``evaluate`` over the quantities a reading gives; the same table runs
through the use cases and fakes in test_vitals_alerts.py.
"""

from __future__ import annotations

import pytest

from domain.alerts.model import Severity
from domain.alerts.rules import BandSetting, Direction, evaluate, override_bands, with_overrides
from domain.alerts.thresholds import DEFAULT_RULES, RULES_BY_NAME
from domain.errors import ValidationFailed
from domain.vitals.model import (
    BloodPressure,
    BloodSugar,
    HeartRate,
    Height,
    Measurement,
    OxygenSaturation,
    SugarContext,
    SugarUnit,
    Temperature,
    Weight,
    quantities,
    type_of,
)

LOW, MEDIUM, HIGH, CRITICAL = Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL
FASTING, RANDOM, POST_MEAL = SugarContext.FASTING, SugarContext.RANDOM, SugarContext.POST_MEAL
MG, MMOL = SugarUnit.MG_DL, SugarUnit.MMOL_L


def sugar(value: float, context: SugarContext = RANDOM, unit: SugarUnit = MG) -> BloodSugar:
    return BloodSugar(value=value, unit=unit, context=context)


# reading -> {rule: (severity, summary code)} under the default rules
DEFAULTS: list[tuple[Measurement, dict[str, tuple[Severity, str]]]] = [
    (BloodPressure(118, 76), {}),
    (BloodPressure(135, 85), {}),  # AHA stage 1: managed routinely
    (BloodPressure(140, 70), {"blood_pressure.high": (MEDIUM, "hypertension_stage_2")}),
    (BloodPressure(128, 90), {"blood_pressure.high": (MEDIUM, "hypertension_stage_2")}),
    (BloodPressure(165, 95), {"blood_pressure.high": (HIGH, "severe_hypertension")}),
    (BloodPressure(150, 100), {"blood_pressure.high": (HIGH, "severe_hypertension")}),
    (BloodPressure(179, 119), {"blood_pressure.high": (HIGH, "severe_hypertension")}),
    (BloodPressure(180, 100), {"blood_pressure.high": (CRITICAL, "hypertensive_crisis")}),
    (BloodPressure(150, 120), {"blood_pressure.high": (CRITICAL, "hypertensive_crisis")}),
    (BloodPressure(90, 60), {}),
    (BloodPressure(89, 62), {"blood_pressure.low": (MEDIUM, "hypotension")}),
    (BloodPressure(100, 59), {"blood_pressure.low": (MEDIUM, "hypotension")}),
    (HeartRate(72), {}),
    (HeartRate(100), {}),
    (HeartRate(101), {"heart_rate.high": (LOW, "tachycardia")}),
    (HeartRate(111), {"heart_rate.high": (MEDIUM, "marked_tachycardia")}),
    (HeartRate(131), {"heart_rate.high": (HIGH, "severe_tachycardia")}),
    (HeartRate(51), {}),
    (HeartRate(50), {"heart_rate.low": (LOW, "bradycardia")}),
    (HeartRate(40), {"heart_rate.low": (HIGH, "severe_bradycardia")}),
    (Temperature(37.0), {}),
    (Temperature(38.0), {}),
    (Temperature(38.1), {"temperature.high": (LOW, "fever")}),
    (Temperature(39.1), {"temperature.high": (MEDIUM, "high_fever")}),
    (Temperature(41.5), {"temperature.high": (CRITICAL, "hyperpyrexia")}),
    (Temperature(36.1), {}),
    (Temperature(36.0), {"temperature.low": (LOW, "low_temperature")}),
    (Temperature(35.0), {"temperature.low": (HIGH, "hypothermia")}),
    (Temperature(31.5), {"temperature.low": (CRITICAL, "moderate_hypothermia")}),
    (OxygenSaturation(98), {}),
    (OxygenSaturation(94), {}),
    (OxygenSaturation(93), {"spo2.low": (MEDIUM, "low_oxygen")}),
    (OxygenSaturation(91), {"spo2.low": (HIGH, "hypoxaemia")}),
    (OxygenSaturation(89), {"spo2.low": (CRITICAL, "severe_hypoxaemia")}),
    (sugar(100, FASTING), {}),
    (sugar(130, FASTING), {}),
    (sugar(131, FASTING), {"blood_sugar.high": (LOW, "above_target")}),
    (sugar(175, POST_MEAL), {}),
    (sugar(180, POST_MEAL), {"blood_sugar.high": (LOW, "above_target")}),
    (sugar(190, RANDOM), {}),
    (sugar(200, RANDOM), {"blood_sugar.high": (LOW, "above_target")}),
    (sugar(250, POST_MEAL), {"blood_sugar.high": (MEDIUM, "hyperglycaemia")}),
    (sugar(17.0, RANDOM, MMOL), {"blood_sugar.high": (HIGH, "severe_hyperglycaemia")}),
    (sugar(650, RANDOM), {"blood_sugar.high": (CRITICAL, "hyperglycaemic_crisis")}),
    (sugar(70, FASTING), {}),
    (sugar(69, FASTING), {"blood_sugar.low": (MEDIUM, "hypoglycaemia")}),
    (sugar(3.8, FASTING, MMOL), {"blood_sugar.low": (MEDIUM, "hypoglycaemia")}),  # 68.4
    (sugar(2.9, RANDOM, MMOL), {"blood_sugar.low": (HIGH, "clinically_significant_hypoglycaemia")}),
    (Weight(140.0), {}),  # no default bands: set per patient
    (Height(170.0), {}),
]


def findings(measurement: Measurement, rules=DEFAULT_RULES) -> dict[str, tuple[Severity, str]]:
    found = evaluate(type_of(measurement).value, quantities(measurement), rules)
    return {f.rule: (f.severity, f.code) for f in found}


@pytest.mark.parametrize(("reading", "expected"), DEFAULTS, ids=[repr(r) for r, _ in DEFAULTS])
def test_default_thresholds(reading, expected) -> None:
    assert findings(reading) == expected


def overridden(rule: str, *bands: tuple[Severity, dict[str, float]]):
    checked = override_bands(RULES_BY_NAME[rule], [BandSetting(s, limits) for s, limits in bands])
    return with_overrides(DEFAULT_RULES, {rule: checked})


# (override, reading, expected): a doctor's bands replace the rule's, for this patient only
OVERRIDES = [
    # a COPD patient lives at 88-92 %: only below 86 is worrying
    (("spo2.low", (HIGH, {"percent": 85})), OxygenSaturation(89), {}),
    (
        ("spo2.low", (HIGH, {"percent": 85})),
        OxygenSaturation(85),
        {"spo2.low": (HIGH, "hypoxaemia")},
    ),
    # a stricter blood-pressure target after a stroke
    (
        ("blood_pressure.high", (LOW, {"systolic": 130}), (CRITICAL, {"systolic": 170})),
        BloodPressure(132, 70),
        {"blood_pressure.high": (LOW, "above_low")},
    ),
    (
        ("blood_pressure.high", (LOW, {"systolic": 130}), (CRITICAL, {"systolic": 170})),
        BloodPressure(171, 70),
        {"blood_pressure.high": (CRITICAL, "hypertensive_crisis")},
    ),
    # the override leaves the other rules as they were
    (
        ("spo2.low", (HIGH, {"percent": 85})),
        BloodPressure(185, 90),
        {"blood_pressure.high": (CRITICAL, "hypertensive_crisis")},
    ),
    # a heart-failure weight ceiling: weight has no default bands
    (
        ("weight.high", (MEDIUM, {"kg": 82.0})),
        Weight(82.5),
        {"weight.high": (MEDIUM, "above_medium")},
    ),
    (("weight.high", (MEDIUM, {"kg": 82.0})), Weight(81.0), {}),
    # switched off
    (("heart_rate.high",), HeartRate(150), {}),
]


@pytest.mark.parametrize(("override", "reading", "expected"), OVERRIDES)
def test_overridden_thresholds(override, reading, expected) -> None:
    rule, *bands = override
    assert findings(reading, overridden(rule, *bands)) == expected


@pytest.mark.parametrize(
    ("rule", "bands", "field"),
    [
        ("spo2.low", [(HIGH, {"bpm": 50})], "bands[0].limits"),
        ("spo2.low", [(HIGH, {})], "bands[0].limits"),
        ("spo2.low", [(HIGH, {"percent": float("nan")})], "bands[0].limits"),
        ("spo2.low", [(HIGH, {"percent": 0})], "bands[0].limits"),
        ("spo2.low", [(HIGH, {"percent": 90}), (HIGH, {"percent": 85})], "bands"),
        ("spo2.low", [(MEDIUM, {"percent": 88}), (HIGH, {"percent": 92})], "bands"),
        ("blood_pressure.high", [(HIGH, {"systolic": 170}), (MEDIUM, {"systolic": 175})], "bands"),
    ],
)
def test_an_override_that_makes_no_sense_is_refused(rule, bands, field) -> None:
    with pytest.raises(ValidationFailed) as refused:
        override_bands(RULES_BY_NAME[rule], [BandSetting(s, limits) for s, limits in bands])
    assert refused.value.field == field


def test_every_default_rule_is_well_formed() -> None:
    for rule in DEFAULT_RULES:
        assert rule.source and set(rule.quantities)
        assert override_bands(rule, [BandSetting(b.severity, b.limits) for b in rule.bands]) == (
            rule.bands
        ), rule.name  # the defaults pass the checks a doctor's bands must pass
        assert rule.direction in (Direction.ABOVE, Direction.BELOW)
