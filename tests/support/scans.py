"""Scans for tests: uploading one through the API, running its storing job, adding one
directly (for the authorization matrix)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from domain.adapters.bootstrap import Services
from domain.jobs.model import Job
from domain.scans.files import StoredScan
from domain.scans.jobs import SCAN_READ, SCAN_STORE
from tests.support.handlers import handler_of, run_handler
from tests.support.records import run_job
from tests.support.rows import rows


async def upload_scan(
    api: Any,
    headers: dict[str, str],
    patient_id: uuid.UUID | str,
    data: bytes,
    name: str = "rx.jpg",
    content_type: str = "image/jpeg",
) -> httpx.Response:
    return await api.post(
        "/api/v1/scans",
        headers=headers,
        data={"patientId": str(patient_id)},
        files={"file": (name, data, content_type)},
    )


async def _scan_store(job: Job, services: Services) -> dict[str, Any] | None:
    return await run_handler(SCAN_STORE, job, services)


async def store_scan(services: Services, job_id: uuid.UUID) -> Job:
    return await run_job(services, job_id, _scan_store)


async def add_scan(services: Services, patient_id: uuid.UUID, image: bytes) -> str:
    """A stored scan of ``patient_id``, encrypted as the upload path encrypts it."""
    from domain.phi.columns import SCAN_DATA_KEY
    from tests.support.api import noop_job

    async def one_piece():
        yield image

    scan_id = uuid.uuid4()
    key = services.content_cipher.new_data_key()
    sealed = services.content_cipher.encrypt(key, one_piece(), str(scan_id).encode())
    cid = await services.content.add(sealed)
    job = await noop_job(services, str(patient_id))
    scan = StoredScan(
        id=scan_id,
        patient_id=patient_id,
        uploaded_by=patient_id,
        job_id=job.id,
        data_key=services.cipher.seal(key, SCAN_DATA_KEY.context(scan_id)),
        media_type="image/png",
        page_count=1,
        cid=cid,
        size_bytes=len(image),
        created_at=datetime.now(UTC),
    )
    async with services.uow() as uow:
        await uow.scans.add(scan)
    return str(scan_id)


async def run_scan_read(services: Services, job_id: uuid.UUID, **overrides: object) -> Job:
    """One attempt of a scan's reading job, its dependencies replaceable (an engine that fails)."""
    bound = handler_of(SCAN_READ, services, **overrides)

    async def handler(job: Job, services: Services) -> dict[str, Any] | None:
        return await bound(job)

    return await run_job(services, job_id, handler)


def reading_job_of(database_url: str, scan_id: str) -> uuid.UUID:
    [row] = rows(
        database_url,
        "SELECT id FROM jobs WHERE kind = 'scan.read' AND payload->>'scanId' = %s",
        (scan_id,),
    )
    return row["id"]


async def add_read_scan(
    services: Services, patient_id: uuid.UUID, image: bytes, *, prescriber: str | None = None
) -> str:
    """A stored scan of ``patient_id`` and its reading (a draft that found no item; the
    ``prescriber`` printed, when given)."""
    from domain.scans.model import Field, ParsedPrescription, ScanReading

    scan_id = await add_scan(services, patient_id, image)
    nothing = Field.missing()
    printed = Field.found(prescriber, 0.95, prescriber) if prescriber else nothing
    reading = ScanReading(
        scan_id=scan_id,
        patient_id=str(patient_id),
        engine="embedded",
        lines=(),
        draft=ParsedPrescription(items=(), prescriber=printed, patient_name=nothing, date=nothing),
        created_at=datetime.now(UTC).isoformat(),
    )
    async with services.uow() as uow:
        await uow.scan_readings.put(reading)
    return scan_id
