"""Reading a stored scan: its bytes decrypted, each page read by the OCR engine, the lines
parsed into a draft against the catalogue, the reading kept sealed.

The job that runs it follows the scan's storing job (``then`` of domain/scans/kind.py). A
page with no text, or text that names no medicine, is a reading that found nothing: the
job succeeds and says so. The engine failing (``OcrUnavailable``) is retried by the job's
schedule, then fails the job, visibly. The job's result holds counts, never what was read.

With an outside provider (OCR_ENGINE=provider) the job sends the pages instead and ends;
the scan awaits the provider's callback (domain/scans/provider.py), whose lines take the
same path from there (``keep_reading``). A provider that cannot take them is retried as an
engine down is; one that refuses them fails the job at once.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import msgspec

from domain.clock import Clock
from domain.errors import PermanentFailure
from domain.files.encryption import decrypted
from domain.files.kind import FileKind
from domain.files.ports import ContentCipher, ContentStore
from domain.jobs.model import Job
from domain.medicines.model import Medicine
from domain.scans.awaiting import ProviderStatus
from domain.scans.files import StoredScan
from domain.scans.model import Candidate, OcrLine, ScanReading
from domain.scans.parsing import parse_prescription
from domain.scans.ports import OcrEngine, OcrProvider, OcrUnavailable, PageImages, UnitOfWork
from domain.sealing import Cipher
from domain.transactions import UnitOfWorkFactory

CATALOGUE_PAGE = 500


class ReadPayload(msgspec.Struct, frozen=True, rename="camel"):
    scan_id: uuid.UUID


def candidates_of(medicines: list[Medicine]) -> list[Candidate]:
    """Every name a printed medicine may be: each entry's generic name and brands."""
    return [
        Candidate(
            medicine_id=str(medicine.id),
            name=name,
            generic_name=medicine.generic_name,
            dosage_form=medicine.dosage_form.value,
            strengths=medicine.strengths,
        )
        for medicine in medicines
        for name in (medicine.generic_name, *medicine.brand_names)
    ]


async def _catalogue(uow: UnitOfWork) -> list[Candidate]:
    medicines: list[Medicine] = []
    while page := await uow.medicines.listing(CATALOGUE_PAGE, len(medicines)):
        medicines += page
        if len(page) < CATALOGUE_PAGE:
            break
    return candidates_of(medicines)


async def keep_reading(
    uow: UnitOfWork, scan: StoredScan, lines: list[OcrLine], engine: str, clock: Clock
) -> ScanReading:
    """The one path from lines to a kept reading, whichever engine read them: parsed against
    the catalogue, sealed at rest (a later reading of the scan replaces it)."""
    reading = ScanReading(
        scan_id=str(scan.id),
        patient_id=str(scan.patient_id),
        engine=engine,
        lines=tuple(lines),
        draft=parse_prescription(lines, await _catalogue(uow)),
        created_at=clock.now().isoformat(),
    )
    await uow.scan_readings.put(reading)
    return reading


async def read_scan(
    kind: FileKind,
    job: Job,
    payload: ReadPayload,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    content: ContentStore,
    cipher: Cipher,
    content_cipher: ContentCipher,
    page_images: PageImages,
    ocr: OcrEngine,
    ocr_provider: OcrProvider | None,
    clock: Clock,
) -> dict[str, Any]:
    async with uow_factory() as uow:
        scan = await uow.files[kind.table].get(payload.scan_id)
    if not isinstance(scan, StoredScan):
        raise PermanentFailure("the scan was deleted before it was read", code="scan_deleted")
    pieces = decrypted(kind, cipher, content_cipher, scan, content.cat(scan.cid))
    data = b"".join([piece async for piece in pieces])
    pages = await asyncio.to_thread(page_images.pages, data, scan.media_type)
    if ocr_provider is not None:
        return await _send(job, scan, pages, uow_factory, ocr_provider, clock)
    lines: list[OcrLine] = []
    for number, page in enumerate(pages):
        lines += await ocr.read(page, number)
    async with uow_factory() as uow:
        reading = await keep_reading(uow, scan, lines, ocr.name, clock)
    return reading.summary


async def _send(
    job: Job,
    scan: StoredScan,
    pages: list[bytes],
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    provider: OcrProvider,
    clock: Clock,
) -> dict[str, Any]:
    """Hand the pages to the provider under this job's id; the scan awaits its callback. The
    request is recorded first, so a callback faster than our commit finds it."""
    summary = {"scanId": str(scan.id), "engine": provider.name, "awaiting": "provider"}
    async with uow_factory() as uow:
        if not await uow.scan_provider_requests.start(scan.id, job.id, clock.now()):
            return summary | {"awaiting": None}  # a retry after the answer came: done
    try:
        await provider.submit(job.id, pages)
    except OcrUnavailable:
        if job.attempts >= job.max_attempts:  # the last try: the scan awaits nothing now
            await _give_up(uow_factory, scan, "ocr_unavailable", clock)
        raise
    except PermanentFailure as exc:
        await _give_up(uow_factory, scan, exc.code, clock)
        raise
    return summary


async def _give_up(
    uow_factory: UnitOfWorkFactory[UnitOfWork], scan: StoredScan, reason: str, clock: Clock
) -> None:
    async with uow_factory() as uow:
        await uow.scan_provider_requests.finish(scan.id, ProviderStatus.FAILED, reason, clock.now())
