"""Uploading records and documents through the API, and running their jobs in-process."""

from __future__ import annotations

import functools
import hashlib
import random
import uuid
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import httpx

from domain.adapters.bootstrap import Services
from domain.jobs.model import Job
from tests.support.handlers import anchor_batch, document_store, record_store
from tests.support.jobs import RecordingSender
from workers.lifecycle import LifecycleRunner

Handler = Callable[[Job, Services], Awaitable[dict[str, Any] | None]]


def blob(size: int, seed: int = 0) -> bytes:
    """Bytes that look like a client-encrypted record: random, reproducible."""
    return random.Random(seed).randbytes(size) if size else b""


def record_form(patient_id: uuid.UUID | str, **fields: str) -> dict[str, str]:
    return {
        "patientId": str(patient_id),
        "recordType": "LAB_RESULT",
        "description": "Lipid panel, fasting",
        **fields,
    }


async def upload_record(
    api: Any,
    headers: dict[str, str],
    patient_id: uuid.UUID | str,
    data: bytes,
    **fields: str,
) -> httpx.Response:
    return await api.post(
        "/api/v1/records",
        headers=headers,
        data=record_form(patient_id, **fields),
        files={"file": ("record.bin", data, "application/octet-stream")},
    )


async def upload_document(
    api: Any, headers: dict[str, str], patient_id: uuid.UUID | str, data: bytes, name: str
) -> httpx.Response:
    return await api.post(
        "/api/v1/documents",
        headers=headers,
        data={"patientId": str(patient_id)},
        files={"file": (name, data, "application/pdf")},
    )


def job_id_of(response: httpx.Response) -> uuid.UUID:
    assert response.status_code == 202, response.text
    return uuid.UUID(response.json()["jobId"])


async def run_job(services: Services, job_id: uuid.UUID, handler: Handler) -> Job:
    """One attempt of the job through the real lifecycle runner."""
    runner = LifecycleRunner(
        services.store, RecordingSender(services.sender), services.clock, heartbeat_seconds=1
    )
    return await runner.run(job_id, functools.partial(handler, services=services))


async def store_record(services: Services, job_id: uuid.UUID) -> Job:
    return await run_job(services, job_id, record_store)


async def store_document(services: Services, job_id: uuid.UUID) -> Job:
    return await run_job(services, job_id, document_store)


async def run_anchoring(services: Services) -> Job:
    """Enqueue and run one anchoring job now (whatever the scheduler would have done)."""
    from domain.anchoring.jobs import ANCHOR_BATCH
    from domain.jobs.model import SYSTEM_OWNER, NewJob
    from domain.jobs.submit import submit_job

    submission = await submit_job(
        services.uow,
        services.sender,
        NewJob(kind=ANCHOR_BATCH, owner_id=SYSTEM_OWNER, payload={}),
    )
    return await run_job(services, submission.job.id, anchor_batch)


def free_port_url() -> str:
    """A URL where nothing listens: an IPFS node or Horizon that is down."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def _one_piece(data: bytes):
    yield data


async def add_record(services: Services, patient_id: uuid.UUID, data: bytes = b"record") -> str:
    """A stored record of ``patient_id`` written directly (its content in the content store)."""
    from datetime import UTC, datetime

    from domain.records.model import AnchorStatus, RecordType, StoredRecord
    from tests.support.api import noop_job

    cid = await services.content.add(_one_piece(data))
    job = await noop_job(services, str(patient_id))
    record = StoredRecord(
        id=uuid.uuid4(),
        patient_id=patient_id,
        uploaded_by=patient_id,
        job_id=job.id,
        record_type=RecordType.OTHER,
        description=None,
        cid=cid,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).digest(),
        anchor_status=AnchorStatus.PENDING,
        anchor_batch_id=None,
        leaf_index=None,
        proof=None,
        created_at=datetime.now(UTC),
    )
    async with services.uow() as uow:
        await uow.records.add(record)
    return str(record.id)


async def add_document(services: Services, patient_id: uuid.UUID, pdf: bytes) -> str:
    """A stored document of ``patient_id``, encrypted as the upload path encrypts it."""
    from datetime import UTC, datetime

    from domain.documents.model import StoredDocument
    from domain.phi.columns import DOCUMENT_DATA_KEY, DOCUMENT_FILENAME
    from tests.support.api import noop_job

    document_id = uuid.uuid4()
    key = services.content_cipher.new_data_key()
    sealed = services.content_cipher.encrypt(key, _one_piece(pdf), str(document_id).encode())
    cid = await services.content.add(sealed)
    job = await noop_job(services, str(patient_id))
    document = StoredDocument(
        id=document_id,
        patient_id=patient_id,
        uploaded_by=patient_id,
        job_id=job.id,
        filename=services.cipher.seal(b"scan.pdf", DOCUMENT_FILENAME.context(document_id)),
        data_key=services.cipher.seal(key, DOCUMENT_DATA_KEY.context(document_id)),
        cid=cid,
        size_bytes=len(pdf),
        page_count=1,
        created_at=datetime.now(UTC),
    )
    async with services.uow() as uow:
        await uow.documents.add(document)
    return str(document_id)


async def unpin_files(uow_factory, content, clock, retention_days: int) -> SimpleNamespace:
    """The retention job's unpinning; its counts, by table, as attributes (``report.records``)."""
    from domain.files.retention import unpin_files as unpin_by_table

    return SimpleNamespace(**await unpin_by_table(uow_factory, content, clock, retention_days))
