"""The default alert rules on vital signs, and where each threshold comes from.

Sources (adult values; a connected doctor overrides them per patient):

- **AHA/ACC 2017** blood-pressure categories (Whelton et al., Hypertension 2018;71:e13):
  stage 2 hypertension at >= 140 systolic or >= 90 diastolic; hypertensive crisis above
  180 and/or 120 (we alert at >= 180 / >= 120). Stage 1 (130-139 / 80-89) is managed
  routinely and raises nothing by default.
- **ESC/ESH 2018** hypertension guideline: grade 2 (severe) from 160 / 100.
- **AHA**, "Low blood pressure": hypotension generally below 90 / 60 mmHg.
- **NEWS2** (Royal College of Physicians, National Early Warning Score 2, 2017): the
  single-parameter bands for pulse (41-50 scores 1, 91-110: 1, 111-130: 2, <= 40 and
  >= 131: 3), temperature (35.1-36.0: 1, 38.1-39.0: 1, >= 39.1: 2, <= 35.0: 3) and SpO2
  scale 1 (92-93: 2, <= 91: 3). A score of 3 in one parameter is a "red" urgent review.
  Tachycardia as a pulse above 100 (AHA).
- **BTS 2017** oxygen guideline: target SpO2 94-98 %; **WHO** (Oxygen therapy for children,
  2016; pulse-oximetry training manual): SpO2 below 90 % needs oxygen.
- Hyperpyrexia: a temperature of 41.5 C or more; moderate hypothermia below 32 C (Swiss staging,
  Brown et al., NEJM 2012;367:1930).
- **ADA** Standards of Care in Diabetes (2024): pre-meal glucose target 80-130 mg/dL, peak
  post-meal below 180, random >= 200 diagnostic of diabetes; check ketones above 240-250;
  sick-day rule: call the care team above 300; hyperosmolar hyperglycaemic state from
  600 (ADA consensus, Kitabchi et al., Diabetes Care 2009;32:1335); hypoglycaemia
  level 1 below 70, level 2 (clinically significant) below 54.

A limit is the first value that alerts, at or beyond it in the rule's direction, so
"below 90" is written 89 for whole-number readings (blood pressure, pulse, SpO2) and
"below 70 mg/dL" as 69.9 (glucose comes in tenths of mmol/L as well).

Weight has rules without default bands (a heart-failure patient's doctor may set them);
height has none.
"""

from __future__ import annotations

from domain.alerts.model import Severity
from domain.alerts.rules import Band, Direction, Rule

LOW, MEDIUM, HIGH, CRITICAL = Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL
ABOVE, BELOW = Direction.ABOVE, Direction.BELOW

DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(
        name="blood_pressure.high",
        vital="blood_pressure",
        direction=ABOVE,
        quantities=("systolic", "diastolic"),
        bands=(
            Band(MEDIUM, "hypertension_stage_2", {"systolic": 140, "diastolic": 90}),
            Band(HIGH, "severe_hypertension", {"systolic": 160, "diastolic": 100}),
            Band(CRITICAL, "hypertensive_crisis", {"systolic": 180, "diastolic": 120}),
        ),
        source="AHA/ACC 2017 stage 2 and hypertensive crisis; ESC/ESH 2018 grade 2",
    ),
    Rule(
        name="blood_pressure.low",
        vital="blood_pressure",
        direction=BELOW,
        quantities=("systolic", "diastolic"),
        bands=(Band(MEDIUM, "hypotension", {"systolic": 89, "diastolic": 59}),),
        source="AHA: hypotension below 90/60 mmHg",
    ),
    Rule(
        name="heart_rate.high",
        vital="heart_rate",
        direction=ABOVE,
        quantities=("bpm",),
        bands=(
            Band(LOW, "tachycardia", {"bpm": 101}),
            Band(MEDIUM, "marked_tachycardia", {"bpm": 111}),
            Band(HIGH, "severe_tachycardia", {"bpm": 131}),
        ),
        source="AHA tachycardia above 100; NEWS2 pulse 111-130 (2), >= 131 (3)",
    ),
    Rule(
        name="heart_rate.low",
        vital="heart_rate",
        direction=BELOW,
        quantities=("bpm",),
        bands=(
            Band(LOW, "bradycardia", {"bpm": 50}),
            Band(HIGH, "severe_bradycardia", {"bpm": 40}),
        ),
        source="NEWS2 pulse 41-50 (1), <= 40 (3)",
    ),
    Rule(
        name="temperature.high",
        vital="temperature",
        direction=ABOVE,
        quantities=("celsius",),
        bands=(
            Band(LOW, "fever", {"celsius": 38.1}),
            Band(MEDIUM, "high_fever", {"celsius": 39.1}),
            Band(CRITICAL, "hyperpyrexia", {"celsius": 41.5}),
        ),
        source="NEWS2 temperature 38.1-39.0 (1), >= 39.1 (2); hyperpyrexia from 41.5 C",
    ),
    Rule(
        name="temperature.low",
        vital="temperature",
        direction=BELOW,
        quantities=("celsius",),
        bands=(
            Band(LOW, "low_temperature", {"celsius": 36.0}),
            Band(HIGH, "hypothermia", {"celsius": 35.0}),
            Band(CRITICAL, "moderate_hypothermia", {"celsius": 31.9}),
        ),
        source="NEWS2 temperature 35.1-36.0 (1), <= 35.0 (3); moderate hypothermia below 32 C",
    ),
    Rule(
        name="spo2.low",
        vital="spo2",
        direction=BELOW,
        quantities=("percent",),
        bands=(
            Band(MEDIUM, "low_oxygen", {"percent": 93}),
            Band(HIGH, "hypoxaemia", {"percent": 91}),
            Band(CRITICAL, "severe_hypoxaemia", {"percent": 89}),
        ),
        source="BTS 2017 target 94-98 %; NEWS2 SpO2 <= 91 (3); WHO: below 90 % needs oxygen",
    ),
    Rule(
        name="blood_sugar.high",
        vital="blood_sugar",
        direction=ABOVE,
        quantities=("mg_dl", "fasting_mg_dl", "post_meal_mg_dl", "random_mg_dl"),
        bands=(
            Band(
                LOW,
                "above_target",
                {"fasting_mg_dl": 131, "post_meal_mg_dl": 180, "random_mg_dl": 200},
            ),
            Band(MEDIUM, "hyperglycaemia", {"mg_dl": 250}),
            Band(HIGH, "severe_hyperglycaemia", {"mg_dl": 300}),
            Band(CRITICAL, "hyperglycaemic_crisis", {"mg_dl": 600}),
        ),
        source="ADA Standards of Care 2024 targets; ketones above 250; HHS from 600 mg/dL",
    ),
    Rule(
        name="blood_sugar.low",
        vital="blood_sugar",
        direction=BELOW,
        quantities=("mg_dl",),
        bands=(
            Band(MEDIUM, "hypoglycaemia", {"mg_dl": 69.9}),
            Band(HIGH, "clinically_significant_hypoglycaemia", {"mg_dl": 53.9}),
        ),
        source="ADA hypoglycaemia level 1 below 70, level 2 below 54 mg/dL",
    ),
    Rule(
        name="weight.high",
        vital="weight",
        direction=ABOVE,
        quantities=("kg",),
        bands=(),
        source="none by default: set per patient (e.g. a heart-failure weight ceiling)",
    ),
    Rule(
        name="weight.low",
        vital="weight",
        direction=BELOW,
        quantities=("kg",),
        bands=(),
        source="none by default: set per patient",
    ),
)

RULES_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in DEFAULT_RULES}
