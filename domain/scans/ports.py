"""What the scans feature needs from outside: an OCR engine that reads a page image."""

from __future__ import annotations

from typing import Protocol

from domain.errors import TransientFailure
from domain.scans.model import OcrLine


class OcrUnavailable(TransientFailure):
    """Raised when the OCR engine cannot read now (not installed, crashed, out of memory):
    the job machinery retries, then fails the job visibly."""

    def __init__(self, message: str = "the OCR engine is unavailable") -> None:
        super().__init__(message, code="ocr_unavailable")


class PageImages(Protocol):
    def pages(self, data: bytes, media_type: str) -> list[bytes]:
        """Each page as a PNG ready to read: a photo turned upright (EXIF) and scaled, a
        PDF's pages rendered. Raises UnsupportedMediaType or BadRequest for what is not an
        image we read (checked at upload, so a job meets this only for a damaged file)."""
        ...


class OcrEngine(Protocol):
    name: str  # embedded | tesseract

    async def read(self, page_png: bytes, page: int) -> list[OcrLine]:
        """The page's lines with their boxes and confidences, [] when it holds no text.
        Raises OcrUnavailable when the engine cannot run."""
        ...
