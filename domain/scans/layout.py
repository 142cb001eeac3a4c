"""OCR lines into the page's rows: a table's cells, read as separate boxes, are joined in
reading order when they sit on one line of the page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.scans.model import OcrLine


@dataclass(frozen=True, slots=True)
class Row:
    text: str  # the cells left to right, two spaces apart
    confidence: float  # the least sure cell's


def _overlap(a: OcrLine, top: float, bottom: float) -> float:
    height = min(a.box[3] - a.box[1], bottom - top) or 1.0
    return (min(a.box[3], bottom) - max(a.box[1], top)) / height


def page_rows(lines: Sequence[OcrLine]) -> list[Row]:
    """Rows top to bottom, page by page; lines overlapping by more than half their height
    are one row."""
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda ln: (ln.page, (ln.box[1] + ln.box[3]) / 2)):
        current = rows[-1] if rows else None
        if current and current[0].page == line.page:
            top = sum(cell.box[1] for cell in current) / len(current)
            bottom = sum(cell.box[3] for cell in current) / len(current)
            if _overlap(line, top, bottom) > 0.5:
                current.append(line)
                continue
        rows.append([line])
    result = []
    for cells in rows:
        cells.sort(key=lambda cell: cell.box[0])
        text = "  ".join(cell.text.strip() for cell in cells if cell.text.strip())
        if text:
            result.append(Row(text=text, confidence=min(cell.confidence for cell in cells)))
    return result
