"""The provider's callback data as an engine's lines: what no engine reads is refused."""

from __future__ import annotations

import uuid

import msgspec
import pytest

from domain.scans.awaiting import ProviderResult, lines_of
from domain.scans.model import OcrLine

REFERENCE = uuid.UUID(int=7)


def result(*lines: dict) -> ProviderResult:
    return msgspec.convert({"reference": str(REFERENCE), "lines": list(lines)}, ProviderResult)


def test_the_callbacks_lines_are_read_as_an_engines() -> None:
    read = lines_of(
        result(
            {"text": "Amoxicillin 500 mg", "box": [10, 20, 300, 50], "confidence": 0.97},
            {"text": "TID x 7 days", "box": [10, 60, 200, 90], "confidence": 0.9, "page": 1},
        )
    )
    assert read == [
        OcrLine(text="Amoxicillin 500 mg", box=(10, 20, 300, 50), confidence=0.97),
        OcrLine(text="TID x 7 days", box=(10, 60, 200, 90), confidence=0.9, page=1),
    ]


@pytest.mark.parametrize(
    "line",
    [
        {"text": "x", "box": [10, 20, 5, 50], "confidence": 0.9},  # right of its left
        {"text": "x", "box": [10, 60, 50, 20], "confidence": 0.9},  # bottom above top
        {"text": "x", "box": [0, 0, 1, 1], "confidence": 1.5},
        {"text": "x", "box": [0, 0, 1, 1], "confidence": 0.5, "page": -1},
        {"text": "x" * 1001, "box": [0, 0, 1, 1], "confidence": 0.5},
    ],
)
def test_a_line_no_engine_reads_is_refused(line: dict) -> None:
    with pytest.raises(ValueError):
        lines_of(result(line))


def test_a_line_without_its_box_is_not_a_result() -> None:
    with pytest.raises(msgspec.ValidationError):
        result({"text": "x", "confidence": 0.5})
