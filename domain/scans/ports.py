"""What the scans feature needs from outside: an OCR engine that reads a page image, or an
outside OCR provider that is sent the pages and calls back later."""

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
from domain.scans.awaiting import ProviderRequest, ProviderStatus
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


class OcrProvider(Protocol):
    """An outside OCR service (OCR_ENGINE=provider): it is sent a scan's pages and answers
    later, by a signed callback naming ``reference``."""

    name: str  # provider

    async def submit(self, reference: uuid.UUID, pages: list[bytes]) -> None:
        """Hand the pages (PNG) over. Raises OcrUnavailable when the provider cannot take
        them now (unreachable, 5xx, 429: retried) and PermanentFailure when it refuses them
        (any other 4xx: no retry mends it). Sending a reference again is harmless: the
        provider answers a reference once."""
        ...


class ProviderRequestRepository(Protocol):
    """Scans awaiting the provider's callback, one row per scan."""

    async def start(self, scan_id: uuid.UUID, reference: uuid.UUID, now: datetime) -> bool:
        """The scan is (again) awaiting the provider, under ``reference``, from ``now``;
        False (nothing changes) when the provider has already answered this reference."""
        ...

    async def by_reference(self, reference: uuid.UUID) -> ProviderRequest | None:
        """The request of ``reference``, locked until the transaction ends."""
        ...

    async def of_scan(self, scan_id: uuid.UUID) -> ProviderRequest | None: ...

    async def finish(
        self, scan_id: uuid.UUID, status: ProviderStatus, reason: str | None, now: datetime
    ) -> bool:
        """End an awaiting request; False when it had ended already (nothing changes)."""
        ...

    async def overdue(self, requested_before: datetime, limit: int) -> list[uuid.UUID]:
        """Scans still awaiting that were sent before ``requested_before``, oldest first."""
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
    scan_provider_requests: ProviderRequestRepository
    medicines: MedicineRepository
    jobs: JobRepository
    audit: AuditLog
    connections: ConnectionRepository
    patients: PatientRepository
