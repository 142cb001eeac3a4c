"""What the scans feature needs from outside: an OCR engine that reads a page image."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from domain.auditing import AuditLog
from domain.connections.ports import ConnectionRepository
from domain.errors import TransientFailure
from domain.files.ports import FileRepository
from domain.jobs.ports import JobRepository
from domain.medicines.ports import MedicineRepository
from domain.patients.ports import PatientRepository
from domain.scans.model import OcrLine, ScanReading


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


class ScanReadingRepository(Protocol):
    async def put(self, reading: ScanReading) -> None:
        """Keep the scan's reading (a later reading of the same scan replaces it)."""
        ...

    async def get(self, scan_id: uuid.UUID) -> ScanReading | None: ...

    async def confirm(self, scan_id: uuid.UUID, prescription_id: uuid.UUID, at: datetime) -> bool:
        """Mark the draft confirmed as ``prescription_id``; False if it already was."""
        ...


class UnitOfWork(Protocol):
    """What the scans feature reads and writes in one database transaction."""

    files: Mapping[str, FileRepository]
    scan_readings: ScanReadingRepository
    medicines: MedicineRepository
    jobs: JobRepository
    audit: AuditLog
    connections: ConnectionRepository
    patients: PatientRepository
