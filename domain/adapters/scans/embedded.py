"""The default engine: RapidOCR 3 with the PP-OCR models bundled in its wheel, on
onnxruntime. Nothing is downloaded, ever; the models load once per process, on first use,
and pages are read one at a time off the event loop (the box has two cores)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from domain.scans.model import OcrLine
from domain.scans.ports import OcrUnavailable

# What the engine is told besides its defaults. Its detector scales a page so that its
# *shorter* side is at least 736 px (``limit_type: min``), i.e. ran on our 2000 px pages at
# full size; at most 1024 px on the *longer* side reads the corpus as well for about 40% less
# CPU on a degraded page. The angle classifier only turns text lines upside down (pages are
# upright from their EXIF orientation, and the parser takes out a few degrees of skew):
# skipped. bench.ocr, 12 pages: 2.97 -> 2.36 CPU-s a clean page, 4.02 -> 2.51 a degraded one;
# 40 pages: every field's F1 still 1.000.
PARAMS: dict[str, Any] = {
    "Global.log_level": "warning",
    "Global.use_cls": False,
    "Det.limit_type": "max",
    "Det.limit_side_len": 1024,
}

_engine: Any = None
_loading = threading.Lock()


def _load() -> Any:
    global _engine
    with _loading:
        if _engine is None:
            try:
                from rapidocr import RapidOCR

                _engine = RapidOCR(params=PARAMS)
            except Exception as exc:  # a missing wheel, a model that will not load
                raise OcrUnavailable(
                    f"the embedded OCR engine did not load ({type(exc).__name__})"
                ) from None
    return _engine


def read_page(page_png: bytes, page: int = 0) -> list[OcrLine]:
    """What the engine reads on one page (blocking)."""
    engine = _load()
    try:
        found = engine(page_png)
    except Exception as exc:
        raise OcrUnavailable(f"the embedded OCR engine failed ({type(exc).__name__})") from None
    if found.boxes is None or found.txts is None:
        return []
    lines = []
    for box, text, score in zip(found.boxes, found.txts, found.scores, strict=True):
        xs = [float(point[0]) for point in box]
        ys = [float(point[1]) for point in box]
        (x0, y0), (x1, y1) = box[0], box[1]  # the top edge, left to right
        slope = (float(y1) - float(y0)) / (float(x1) - float(x0)) if x1 != x0 else 0.0
        lines.append(
            OcrLine(
                text=str(text),
                box=(min(xs), min(ys), max(xs), max(ys)),
                confidence=float(score),
                page=page,
                slope=slope,
            )
        )
    return lines


class EmbeddedOcr:
    name = "embedded"

    def __init__(self) -> None:
        self._reading = asyncio.Lock()  # one page at a time: onnxruntime uses both cores

    async def read(self, page_png: bytes, page: int) -> list[OcrLine]:
        async with self._reading:
            return await asyncio.to_thread(read_page, page_png, page)
