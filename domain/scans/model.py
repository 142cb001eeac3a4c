"""What an OCR engine reads and what the parser makes of it: lines with boxes, and fields that
carry their confidence and say whether a person must look at them before they are used."""

from __future__ import annotations

import msgspec

# Below this a field is flagged for review: shown, but never taken without a person's eye.
REVIEW_BELOW = 0.85


class OcrLine(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A line of text as an engine read it: its box (left, top, right, bottom, in pixels of
    the page) and the engine's confidence (0..1)."""

    text: str
    box: tuple[float, float, float, float]
    confidence: float
    page: int = 0
    slope: float = 0.0  # of its baseline (dy/dx), where the engine tells: the page's skew


class Candidate(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A catalogue entry a printed name may be: ``name`` is its generic name or a brand."""

    medicine_id: str
    name: str
    generic_name: str
    dosage_form: str
    strengths: tuple[str, ...] = ()


class Field(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One parsed value: ``None`` when nothing was found (and then always for review)."""

    value: str | None
    confidence: float
    review: bool
    printed: str | None = None  # the text it was read from, as printed

    @classmethod
    def found(cls, value: str, confidence: float, printed: str | None = None) -> Field:
        confidence = round(max(0.0, min(1.0, confidence)), 3)
        return cls(
            value=value, confidence=confidence, review=confidence < REVIEW_BELOW, printed=printed
        )

    @classmethod
    def missing(cls, *, review: bool = True) -> Field:
        return cls(value=None, confidence=0.0, review=review)


class MedicineMatch(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    medicine_id: str | None
    name: str | None  # the catalogue's generic name
    printed: str
    confidence: float
    review: bool


class DraftItem(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    line: str  # the line (or table row) as read
    medicine: MedicineMatch
    strength: Field  # "500 mg"
    form: Field  # tablet, capsule, oral_liquid, inhaler ...
    dose_amount: Field  # "1", "1/2"
    dose_form: Field  # tablet, capsule, mL, puff ...
    frequency: Field  # as written (cleaned); its notation in ``notation``
    notation: str | None
    timing: Field  # a Timing value; "any" when none is printed
    duration_days: Field

    @property
    def needs_review(self) -> bool:
        fields = (self.strength, self.dose_amount, self.frequency, self.duration_days)
        return self.medicine.review or any(field.review for field in fields)


class ParsedPrescription(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    items: tuple[DraftItem, ...]
    prescriber: Field
    patient_name: Field
    date: Field  # ISO date

    @property
    def found_nothing(self) -> bool:
        return not self.items


class ScanReading(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """What the engine read on a scan and the draft the parser made of it: sealed at rest
    (OCR text names the patient and their medicines); only the counts are in the clear."""

    scan_id: str
    patient_id: str
    engine: str
    lines: tuple[OcrLine, ...]
    draft: ParsedPrescription
    created_at: str  # ISO, UTC

    @property
    def summary(self) -> dict[str, object]:
        """What the reading job reports (no PHI): counts only."""
        return {
            "scanId": self.scan_id,
            "engine": self.engine,
            "foundNothing": self.draft.found_nothing,
            "items": len(self.draft.items),
            "itemsToReview": sum(item.needs_review for item in self.draft.items),
        }
