"""A scan sent to the outside OCR provider, awaiting its signed callback, and what the
callback carries.

The provider is told a reference (the reading job's id: never PHI) and calls back
``POST /api/v1/webhooks/ocr`` with the lines it read for that reference. Until then the scan
is ``awaiting``; the callback makes it ``answered`` (its reading kept as an engine's would
be), the provider reporting a failure or refusing it ``failed``, and no answer within
OCR_PROVIDER_TIMEOUT_SECONDS ``timed_out`` (the ``scan.provider_timeout`` sweep). Only an
awaiting scan moves: a callback after any end changes nothing.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import msgspec

from domain.scans.model import OcrLine

OCR_COMPLETED = "ocr.completed"  # data: {"reference", "lines": [{text, box, confidence, page}]}
OCR_FAILED = "ocr.failed"  # data: {"reference", "code"}: the provider could not read it
MAX_LINES = 5000  # 10 pages of dense print is far below this
MAX_TEXT = 1000


class ProviderStatus(enum.StrEnum):
    AWAITING = "awaiting"
    ANSWERED = "answered"
    TIMED_OUT = "timed_out"
    FAILED = "failed"


class ProviderRequest(msgspec.Struct, frozen=True, kw_only=True):
    scan_id: uuid.UUID
    reference: uuid.UUID
    status: ProviderStatus
    reason: str | None  # a code (ocr_provider_timeout, ocr_provider_failed ...): no PHI
    requested_at: datetime
    finished_at: datetime | None


class _Line(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    box: tuple[float, float, float, float]
    confidence: float
    page: int = 0
    slope: float = 0.0


class ProviderResult(msgspec.Struct, frozen=True, kw_only=True):
    """An ``ocr.completed`` event's data."""

    reference: uuid.UUID
    lines: list[_Line]


class ProviderFailure(msgspec.Struct, frozen=True, kw_only=True):
    """An ``ocr.failed`` event's data: the provider's code, kept only when it is short and
    plain (it is shown to operators)."""

    reference: uuid.UUID
    code: str = "unreadable"


def lines_of(result: ProviderResult) -> list[OcrLine]:
    """The callback's lines as an engine's: raises ValueError for lines no engine reads."""
    if len(result.lines) > MAX_LINES:
        raise ValueError("too many lines")
    lines = []
    for line in result.lines:
        left, top, right, bottom = line.box
        if len(line.text) > MAX_TEXT or not 0 <= line.confidence <= 1 or line.page < 0:
            raise ValueError("a line is not one an OCR engine reads")
        if right < left or bottom < top:
            raise ValueError("a line's box is upside down")
        lines.append(
            OcrLine(
                text=line.text,
                box=line.box,
                confidence=line.confidence,
                page=line.page,
                slope=line.slope,
            )
        )
    return lines
