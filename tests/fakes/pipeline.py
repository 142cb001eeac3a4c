"""The file pipeline wired to in-memory fakes, as the composition root wires it to the real
services: use cases through ``Wired``, storing jobs through their handlers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from domain.auditing import AuditContext
from domain.clock import ManualClock
from domain.documents.kind import DOCUMENTS
from domain.files.kind import FileKind
from domain.files.staging import UploadPayload
from domain.files.uploads import FileSink, ReceivedForm, ReceiveForm
from domain.identity import Principal, Role
from domain.jobs.model import Job
from domain.policies import Access, policy_named
from domain.records.kind import RECORDS
from domain.settings import Settings
from domain.wiring import Wired, inject
from tests.fakes.audit import FakeAuditLog
from tests.fakes.connections import FakeConnectionRepository
from tests.fakes.crypto import FakeCipher, FakeContentCipher, FakePdfInspector
from tests.fakes.database import FakeUnitOfWorkFactory
from tests.fakes.files import (
    FakeContentStore,
    FakeFileRepository,
    FakeUploadRepository,
    files_of,
)
from tests.fakes.jobs import FakeJobRepository, FakeJobStore, RecordingSender
from tests.fakes.patients import FakePatientRepository

KINDS = (RECORDS, DOCUMENTS)
CALLER = AuditContext(actor_id="test", actor_role="test")


def receiving(fields: dict[str, str], data: bytes, filename: str | None = None) -> ReceiveForm:
    """A form as the API reads one: the file's bytes handed to the sink in pieces."""

    async def receive(sink: FileSink) -> ReceivedForm:
        for start in range(0, len(data), 64 * 1024):
            await sink(data[start : start + 64 * 1024])
        return ReceivedForm(fields=fields, filename=filename)

    return receive


class FilePlatform:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.uow = FakeUnitOfWorkFactory(
            {
                "uploads": FakeUploadRepository,
                "files": files_of(KINDS),
                "jobs": FakeJobRepository,
                "audit": FakeAuditLog,
                "patients": FakePatientRepository,
                "connections": FakeConnectionRepository,
            },
            self.clock,
        )
        self.content = FakeContentStore()
        self.cipher = FakeCipher()
        self.sender = RecordingSender()
        self.store = FakeJobStore(self.uow.database)
        self.dependencies: dict[str, Any] = {
            "uow_factory": self.uow,
            "sender": self.sender,
            "cipher": self.cipher,
            "clock": self.clock,
            "content": self.content,
            "content_cipher": FakeContentCipher(),
            "pdf": FakePdfInspector(),
            "store": self.store,
            "cid_of": self.content.cid_of,
            "ledger": None,
            "settings": Settings(
                database_url="postgresql://unused",
                redis_url="redis://unused",
                jwt_secret="x" * 40,
                data_dir=Path("/nonexistent"),
                phi_keys={"fake-k1": bytes(32)},
                phi_active_key_id="fake-k1",
            ),
        }
        self.cases = Wired(self.dependencies)

    async def person(self, role: Role) -> Principal:
        principal = Principal(user_id=str(uuid.uuid4()), role=role)
        if role is Role.PATIENT:
            async with self.uow() as uow:
                uow.patients.put(uuid.UUID(principal.user_id))
        return principal

    async def connect(self, doctor: Principal, patient: Principal) -> None:
        async with self.uow() as uow:
            uow.connections.connect(uuid.UUID(doctor.user_id), uuid.UUID(patient.user_id))

    async def job(self, job_id: uuid.UUID) -> Job:
        job = await self.store.get(job_id)
        assert job is not None
        return job

    async def run_store(self, kind: FileKind, job_id: uuid.UUID) -> dict[str, Any]:
        """One attempt of the job's handler, as a worker runs it."""
        job = await self.job(job_id)
        handler = inject(kind.store_job.handler, self.dependencies)
        return await handler(job, UploadPayload(upload_id=uuid.UUID(job.payload["uploadId"])))

    def files(self, kind: FileKind) -> FakeFileRepository:
        """The kind's committed files, for a test to look at (deleted ones too)."""
        return FakeFileRepository(self.uow.database, kind)

    def table(self, name: str) -> dict:
        return self.uow.database.table(name)


def access(principal: Principal, policy: str) -> Access:
    return Access(principal=principal, policy=policy_named(policy))


async def joined(pieces: AsyncIterator[bytes]) -> bytes:
    return b"".join([piece async for piece in pieces])
