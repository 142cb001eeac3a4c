"""Alert rules: bands of thresholds on a reading's quantities, and a patient's overrides.

A rule watches one kind of vital sign in one direction. Its bands each name a
severity, a summary code and limits on named quantities (``systolic``,
``mg_dl``, ``fasting_mg_dl`` ... as ``domain/vitals/model.py`` ``quantities``
gives them): a reading breaks a band when *any* quantity it names is at or
above its limit (``above``), or at or below it (``below``): a limit is the first
value that alerts. A reading that breaks
several bands of a rule counts at the highest severity. The defaults and their
clinical sources are in ``thresholds.py``; a connected doctor may replace a
rule's bands for one patient (an empty list switches the rule off for them).
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Iterable, Mapping

import msgspec

from domain.alerts.model import Severity, check_code
from domain.errors import ValidationFailed


class Direction(enum.StrEnum):
    ABOVE = "above"  # breaks at or above the limit
    BELOW = "below"  # breaks at or below the limit


class Band(msgspec.Struct, frozen=True):
    severity: Severity
    code: str
    limits: dict[str, float]


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    vital: str  # the VitalType it watches
    direction: Direction
    quantities: tuple[str, ...]  # the quantities its bands may name
    bands: tuple[Band, ...]
    source: str  # where the default thresholds come from


class Finding(msgspec.Struct, frozen=True):
    """A reading broke ``rule``: at ``severity``, described by ``code``."""

    rule: str
    severity: Severity
    code: str


def _breaks(band: Band, direction: Direction, quantities: Mapping[str, float]) -> bool:
    for name, limit in band.limits.items():
        value = quantities.get(name)
        if value is None:
            continue
        if value >= limit if direction is Direction.ABOVE else value <= limit:
            return True
    return False


def evaluate(vital: str, quantities: Mapping[str, float], rules: Iterable[Rule]) -> list[Finding]:
    """Every rule on ``vital`` the reading breaks, each at the highest band it breaks."""
    found = []
    for rule in rules:
        if rule.vital != vital:
            continue
        broken = [band for band in rule.bands if _breaks(band, rule.direction, quantities)]
        if broken:
            worst = max(broken, key=lambda band: band.severity.rank)
            found.append(Finding(rule.name, worst.severity, worst.code))
    return found


class BandSetting(msgspec.Struct, frozen=True):
    """A band as a doctor sets it: the code comes from the default band of its severity."""

    severity: Severity
    limits: dict[str, float]


MAX_LIMIT = 10_000.0


def override_bands(rule: Rule, settings: list[BandSetting]) -> tuple[Band, ...]:
    """A doctor's bands for ``rule``, checked: known quantities, finite positive limits, one band
    per severity, and limits that grow more extreme as severity rises. Raises ValidationFailed."""
    if len({s.severity for s in settings}) != len(settings):
        raise ValidationFailed("one band per severity", field="bands")
    codes = {band.severity: band.code for band in rule.bands}
    bands = []
    for index, setting in enumerate(sorted(settings, key=lambda s: s.severity.rank)):
        field = f"bands[{index}].limits"
        if not setting.limits:
            raise ValidationFailed("a band names at least one limit", field=field)
        for name, limit in setting.limits.items():
            if name not in rule.quantities:
                raise ValidationFailed(
                    f"{rule.name} has limits on: {', '.join(rule.quantities)}", field=field
                )
            if not math.isfinite(limit) or not 0 < limit <= MAX_LIMIT:
                raise ValidationFailed("a limit is a positive number", field=field)
        code = codes.get(setting.severity, f"{rule.direction.value}_{setting.severity.lower()}")
        bands.append(Band(setting.severity, code, dict(setting.limits)))
    _check_monotonic(rule, bands)
    return tuple(bands)


def _check_monotonic(rule: Rule, bands: list[Band]) -> None:
    """A higher severity needs a more extreme reading: a limit never moves back."""
    for lower, higher in itertools.pairwise(bands):
        for name in set(lower.limits) & set(higher.limits):
            backwards = (
                higher.limits[name] < lower.limits[name]
                if rule.direction is Direction.ABOVE
                else higher.limits[name] > lower.limits[name]
            )
            if backwards:
                raise ValidationFailed(
                    f"the {higher.severity} limit on {name} must be "
                    f"{'at least' if rule.direction is Direction.ABOVE else 'at most'} "
                    f"the {lower.severity} one",
                    field="bands",
                )


def rule_named(rules: Mapping[str, Rule], name: str) -> Rule:
    check_code(name, "rule")
    found = rules.get(name)
    if found is None:
        raise ValidationFailed(
            f"unknown rule; expected one of: {', '.join(sorted(rules))}", field="rule"
        )
    return found


def with_overrides(rules: Iterable[Rule], overrides: Mapping[str, tuple[Band, ...]]) -> list[Rule]:
    """The rules for one patient: each overridden rule with the doctor's bands instead."""
    return [
        msgspec.structs.replace(rule, bands=overrides[rule.name])
        if rule.name in overrides
        else rule
        for rule in rules
    ]
