"""Scans into page images an engine reads: photos decoded (JPEG, PNG, HEIC when pillow-heif is
installed), turned upright by their EXIF orientation, scaled down to ``MAX_SIDE``; PDFs'
pages rendered with pypdfium2 (which bundles its engine) at ``PDF_DPI``.

On the generated corpus (bench/ocr.py) the embedded engine read pages rotated up to 5°,
blurred, noisy and dim as well as clean ones, so the image is not deskewed here (nor
contrast-stretched: not tried); the skew that mattered (a rotated table's rows) is taken
out of the boxes by the parser (domain/scans/layout.py). A phone photo's EXIF orientation
is applied, and large photos are scaled down to ``MAX_SIDE`` (not measured: the engine's
detector works at about that size).
"""

from __future__ import annotations

import io

import filetype
from PIL import Image, ImageOps, UnidentifiedImageError

from domain.errors import BadRequest, UnsupportedMediaType

MAX_SIDE = 2000
PDF_DPI = 200
MAX_PAGES = 10
Image.MAX_IMAGE_PIXELS = 60_000_000  # refuse decompression bombs beyond ~60 MP

try:  # HEIC photos (iPhones): only when the wheel that bundles libheif is installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIC = True
except ImportError:  # pragma: no cover - the project installs it
    HEIC = False

IMAGE_TYPES = {"image/jpeg", "image/png"} | ({"image/heic", "image/heif"} if HEIC else set())
MEDIA_TYPES = frozenset(IMAGE_TYPES | {"application/pdf"})


def media_type(head: bytes) -> str:
    """What the bytes are by their magic numbers (never the client's word):
    UnsupportedMediaType for anything we do not read."""
    kind = filetype.guess(head)
    mime = kind.mime if kind else None
    if mime == "image/heif":
        mime = "image/heic"
    if mime not in MEDIA_TYPES:
        raise UnsupportedMediaType(
            "a scan is a JPEG, PNG, " + ("HEIC " if HEIC else "") + "or PDF file",
            code="unsupported_media_type",
        )
    return mime


def _png(image: Image.Image) -> bytes:
    image = image.convert("RGB")
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _photo(data: bytes) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return _png(ImageOps.exif_transpose(image))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError):
        raise BadRequest("the image could not be read", code="unreadable_image") from None


def _pdf_pages(data: bytes) -> list[bytes]:
    import pypdfium2 as pdfium  # a native library: loaded when a PDF comes, not at import

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        raise BadRequest("the PDF could not be read", code="unreadable_pdf") from None
    try:
        if len(document) > MAX_PAGES:
            raise BadRequest(f"a scanned PDF has at most {MAX_PAGES} pages", code="too_many_pages")
        return [_png(page.render(scale=PDF_DPI / 72).to_pil()) for page in document]
    finally:
        document.close()


class PillowPages:
    def pages(self, data: bytes, media_type: str) -> list[bytes]:
        if media_type == "application/pdf":
            return _pdf_pages(data)
        return [_photo(data)]
