"""OCR lines into the page's rows: a table's cells, read as separate boxes, are joined in
reading order when they sit on one line of the page."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from domain.scans.model import OcrLine


@dataclass(frozen=True, slots=True)
class Row:
    text: str  # the cells left to right, two spaces apart
    confidence: float  # the least sure cell's


def _skews(lines: Sequence[OcrLine]) -> dict[int, float]:
    """Each page's skew: the median slope of its lines' baselines (0 when unknown)."""
    slopes: dict[int, list[float]] = {}
    for line in lines:
        slopes.setdefault(line.page, []).append(line.slope)
    return {page: statistics.median(values) for page, values in slopes.items()}


def _upright(line: OcrLine, skew: float) -> tuple[float, float]:
    """The line's top and bottom as if the page were not rotated (about its left edge)."""
    shift = skew * (line.box[0] + line.box[2]) / 2
    return line.box[1] - shift, line.box[3] - shift


def _overlap(top: float, bottom: float, row_top: float, row_bottom: float) -> float:
    height = min(bottom - top, row_bottom - row_top) or 1.0
    return (min(bottom, row_bottom) - max(top, row_top)) / height


def page_rows(lines: Sequence[OcrLine]) -> list[Row]:
    """Rows top to bottom, page by page; lines overlapping by more than half their height
    once the page's skew is taken out (a table's cells drift apart on a rotated photo) are
    one row."""
    skews = _skews(lines)
    spans = {id(line): _upright(line, skews[line.page]) for line in lines}
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda ln: (ln.page, sum(spans[id(ln)]) / 2)):
        current = rows[-1] if rows else None
        if current and current[0].page == line.page:
            row_top = sum(spans[id(cell)][0] for cell in current) / len(current)
            row_bottom = sum(spans[id(cell)][1] for cell in current) / len(current)
            if _overlap(*spans[id(line)], row_top, row_bottom) > 0.5:
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
