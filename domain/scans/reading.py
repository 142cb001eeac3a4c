"""Reading a stored scan: its bytes decrypted, each page read by the OCR engine, the lines
parsed into a draft against the catalogue, the reading kept sealed.

The job that runs it follows the scan's storing job (``then`` of domain/scans/kind.py). A
page with no text, or text that names no medicine, is a reading that found nothing: the
job succeeds and says so. The engine failing (``OcrUnavailable``) is retried by the job's
schedule, then fails the job, visibly. The job's result holds counts, never what was read.
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
from domain.scans.files import StoredScan
from domain.scans.model import Candidate, OcrLine, ScanReading
from domain.scans.parsing import parse_prescription
from domain.scans.ports import OcrEngine, PageImages, UnitOfWork
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
    clock: Clock,
) -> dict[str, Any]:
    async with uow_factory() as uow:
        scan = await uow.files[kind.table].get(payload.scan_id)
        candidates = await _catalogue(uow)
    if not isinstance(scan, StoredScan):
        raise PermanentFailure("the scan was deleted before it was read", code="scan_deleted")
    pieces = decrypted(kind, cipher, content_cipher, scan, content.cat(scan.cid))
    data = b"".join([piece async for piece in pieces])
    pages = await asyncio.to_thread(page_images.pages, data, scan.media_type)
    lines: list[OcrLine] = []
    for number, page in enumerate(pages):
        lines += await ocr.read(page, number)
    reading = ScanReading(
        scan_id=str(scan.id),
        patient_id=str(scan.patient_id),
        engine=ocr.name,
        lines=tuple(lines),
        draft=parse_prescription(lines, candidates),
        created_at=clock.now().isoformat(),
    )
    async with uow_factory() as uow:
        await uow.scan_readings.put(reading)
    return reading.summary
