"""Field-level precision, recall and F1 of parsed scans against the corpus's ground truth.

An item is aligned to the truth by its medicine; a field counts as right when its value is
the truth's. Precision: right / fields given; recall: right / fields the truth has. A line
is an exact match when medicine, strength, dose, frequency and duration are all right.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from domain.scans.model import DraftItem, ParsedPrescription
from tests.support.prescription_images import Sample, Truth

FIELDS = ("medicine", "strength", "dose", "frequency", "duration")


def _value(item: DraftItem, name: str) -> str | None:
    return {
        "medicine": item.medicine.name,
        "strength": item.strength.value,
        "dose": item.dose_amount.value,
        "frequency": item.notation,
        "duration": item.duration_days.value,
    }[name]


def _truth(item: Truth, name: str) -> str | None:
    return {
        "medicine": item.generic,
        "strength": item.strength,
        "dose": item.dose,
        "frequency": item.notation,
        "duration": item.duration_days,
    }[name]


@dataclass
class Score:
    given: Counter[str] = field(default_factory=Counter)
    right: Counter[str] = field(default_factory=Counter)
    expected: Counter[str] = field(default_factory=Counter)
    lines: int = 0
    exact_lines: int = 0

    def add(self, sample: Sample, parsed: ParsedPrescription) -> list[str]:
        """Count the sample's fields; returns what was read wrong, for a person to look at."""
        by_medicine = {item.medicine.name: item for item in parsed.items}
        misses = []
        for item in parsed.items:
            for name in FIELDS:
                self.given[name] += _value(item, name) is not None
            if item.medicine.name not in {truth.generic for truth in sample.items}:
                misses.append(f"extra item {item.medicine.name!r} from {item.line!r}")
        for truth in sample.items:
            found = by_medicine.get(truth.generic)
            exact = found is not None
            if found is None:
                misses.append(f"no item for {truth.printed!r}")
            for name in FIELDS:
                wanted = _truth(truth, name)
                self.expected[name] += wanted is not None
                ok = found is not None and _value(found, name) == wanted
                self.right[name] += ok and wanted is not None
                exact = exact and ok
                if found is not None and not ok:
                    misses.append(
                        f"{name}: wanted {wanted!r}, read {_value(found, name)!r} in {found.line!r}"
                    )
            self.lines += 1
            self.exact_lines += exact
        return misses

    def f1(self, name: str) -> tuple[float, float, float]:
        precision = self.right[name] / self.given[name] if self.given[name] else 0.0
        recall = self.right[name] / self.expected[name] if self.expected[name] else 0.0
        both = precision + recall
        return precision, recall, (2 * precision * recall / both if both else 0.0)

    @property
    def exact_match(self) -> float:
        return self.exact_lines / self.lines if self.lines else 0.0
