"""Debian's tesseract-ocr through pytesseract, when it is installed: faster than the embedded
engine. Each page is evened out first (its lighting divided out, so a shadow is not binarized
into ink), deskewed (the rows of ink sharpest), and read as one block of text (``--psm 6``);
without that, tesseract dropped whole item lines on tilted or side-lit photos (bench.ocr:
degraded medicine F1 0.62 with ``--psm 4``, 0.78 with ``--psm 6`` alone, 1.00 with both).
Words are grouped into lines as tesseract numbers them (block, paragraph, line)."""

from __future__ import annotations

import asyncio
import io
import os
from typing import Any

from domain.scans.model import OcrLine
from domain.scans.ports import OcrUnavailable

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # tesseract's threads fight on two cores

# Page segmentation: 6 (one uniform block of text) reads every item line of a page rotated a
# few degrees, where 4 (a single column of variable sizes) dropped whole lines (bench.ocr).
PAGE_SEGMENTATION = "--psm 6"
# Skews tried (degrees): the photographed pages of the corpus lean up to 5 degrees.
SKEWS = tuple(step / 2 for step in range(-12, 13))
SKEW_SIDE = 800  # the skew is judged on a copy this size (its ink rows are what counts)
LIGHT_RADIUS = 30  # pixels: wider than a letter, narrower than a shadow's gradient


def _evened(image: Any) -> Any:
    """The page in grey with its lighting evened out: each pixel divided by the page's light
    around it (a wide blur), so a shadow across a photo is not taken for ink when tesseract
    binarizes the page (it dropped whole pages lit from one side)."""
    import numpy as np
    from PIL import Image, ImageFilter, ImageOps

    gray = ImageOps.grayscale(image)
    light = gray.filter(ImageFilter.GaussianBlur(LIGHT_RADIUS))
    ratio = np.asarray(gray, dtype=np.float32) / np.maximum(np.asarray(light, np.float32), 1.0)
    return Image.fromarray(np.clip(ratio * 255.0, 0, 255).astype(np.uint8))


def _deskewed(gray: Any) -> Any:
    """The page turned by the skew that makes its rows of ink sharpest (the variance of the
    rows' ink counts is largest when text lines lie flat); unchanged when that is none."""
    import numpy as np
    from PIL import Image

    small = gray.copy()
    small.thumbnail((SKEW_SIDE, SKEW_SIDE))
    ink = Image.eval(small, lambda value: 255 if value < 128 else 0)

    def sharpness(angle: float) -> float:
        rows = np.asarray(ink.rotate(angle, resample=Image.NEAREST), dtype=np.float32).sum(axis=1)
        return float(rows.var())

    best = max(SKEWS, key=sharpness)
    if best == 0:
        return gray
    return gray.rotate(best, resample=Image.BILINEAR, expand=True, fillcolor=255)


def read_page(page_png: bytes, page: int = 0) -> list[OcrLine]:
    import pytesseract
    from PIL import Image

    try:
        with Image.open(io.BytesIO(page_png)) as image:
            data = pytesseract.image_to_data(
                _deskewed(_evened(image)),
                lang="eng",
                config=PAGE_SEGMENTATION,
                output_type=pytesseract.Output.DICT,
            )
    except (pytesseract.TesseractNotFoundError, pytesseract.TesseractError, OSError) as exc:
        raise OcrUnavailable(f"tesseract failed ({type(exc).__name__})") from None
    grouped: dict[tuple[int, int, int], list[int]] = {}
    for index, word in enumerate(data["text"]):
        if word.strip() and float(data["conf"][index]) >= 0:
            key = (data["block_num"][index], data["par_num"][index], data["line_num"][index])
            grouped.setdefault(key, []).append(index)
    lines = []
    for indexes in grouped.values():
        left = min(data["left"][i] for i in indexes)
        top = min(data["top"][i] for i in indexes)
        right = max(data["left"][i] + data["width"][i] for i in indexes)
        bottom = max(data["top"][i] + data["height"][i] for i in indexes)
        confidence = sum(float(data["conf"][i]) for i in indexes) / len(indexes) / 100
        text = " ".join(data["text"][i].strip() for i in indexes)
        lines.append(
            OcrLine(text=text, box=(left, top, right, bottom), confidence=confidence, page=page)
        )
    return lines


class TesseractOcr:
    name = "tesseract"

    async def read(self, page_png: bytes, page: int) -> list[OcrLine]:
        return await asyncio.to_thread(read_page, page_png, page)
