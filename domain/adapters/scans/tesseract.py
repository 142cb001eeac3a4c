"""Debian's tesseract-ocr through pytesseract, when it is installed: faster than the embedded
engine on clean pages, weaker on rotated or noisy ones. Words are grouped into lines as
tesseract numbers them (block, paragraph, line)."""

from __future__ import annotations

import asyncio
import io
import os

from domain.scans.model import OcrLine
from domain.scans.ports import OcrUnavailable

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # tesseract's threads fight on two cores


def read_page(page_png: bytes, page: int = 0) -> list[OcrLine]:
    import pytesseract
    from PIL import Image

    try:
        with Image.open(io.BytesIO(page_png)) as image:
            data = pytesseract.image_to_data(
                image, lang="eng", config="--psm 4", output_type=pytesseract.Output.DICT
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
