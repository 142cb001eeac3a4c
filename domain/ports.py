"""The outside world as the core sees it. Adapters in domain/adapters implement these."""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

import msgspec

from domain.audit import AuditContext, AuditEntry
from domain.jobs import Job, JobError, JobEvent, JobStatus, NewJob


class Submission(msgspec.Struct, frozen=True):
    """The outcome of submitting a command: the job, and whether this call created it."""

    job: Job
    created: bool


class JobPage(msgspec.Struct, frozen=True):
    jobs: list[Job]
    next_cursor: str | None


class JobRepository(Protocol):
    """Job rows inside one transaction (the outbox: business rows commit with the job)."""

    async def add(self, new: NewJob, job_id: uuid.UUID | None = None) -> Submission: ...


class EmailMessage(msgspec.Struct, frozen=True, kw_only=True):
    """An e-mail waiting in our database: the only place its address and data live."""

    id: uuid.UUID
    job_id: uuid.UUID
    to_address: str
    template: str
    data: dict[str, Any]
    message_id: str
    created_at: datetime | None = None


class EmailRepository(Protocol):
    async def add(self, message: EmailMessage) -> None: ...

    async def get(self, email_id: uuid.UUID) -> EmailMessage | None: ...


class UnitOfWork(Protocol):
    """One database transaction; committed when the context exits without an error."""

    jobs: JobRepository
    emails: EmailRepository
    audit: AuditLog


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> AbstractAsyncContextManager[UnitOfWork]: ...


class JobStore(Protocol):
    """Job state outside a business transaction: reads and lifecycle transitions.

    Each transition is one guarded UPDATE that names the attempt it belongs to,
    so a stale worker (one recovered after its heartbeat stopped) cannot
    overwrite the outcome of a later attempt; it gets None back.
    """

    async def get(self, job_id: uuid.UUID) -> Job | None: ...

    async def page(
        self,
        *,
        owner_id: str | None,
        status: JobStatus | None,
        kind: str | None,
        limit: int,
        cursor: str | None,
    ) -> JobPage: ...

    async def events(self, job_id: uuid.UUID, after_id: int = 0) -> list[JobEvent]: ...

    async def claim(self, job_id: uuid.UUID) -> Job | None: ...

    async def heartbeat(self, job_id: uuid.UUID, attempt: int) -> bool: ...

    async def succeed(
        self, job_id: uuid.UUID, attempt: int, result: dict[str, Any] | None
    ) -> Job | None: ...

    async def retry(
        self, job_id: uuid.UUID, attempt: int, error: JobError, run_after: datetime
    ) -> Job | None: ...

    async def fail(self, job_id: uuid.UUID, attempt: int, error: JobError) -> Job | None: ...

    async def cancel(self, job_id: uuid.UUID) -> Job: ...

    async def resubmit(self, job_id: uuid.UUID, extra_attempts: int) -> Job: ...

    async def due_for_send(self, grace_seconds: float, limit: int) -> list[Job]: ...

    async def recover_stale(self, stale_after_seconds: float, limit: int) -> list[Job]: ...


class MessageSender(Protocol):
    """Tells the workers that a job is due. Losing a message loses no job: the relay re-sends."""

    async def send(self, job: Job, delay_seconds: float = 0.0) -> None: ...


class RenderedEmail(msgspec.Struct, frozen=True):
    subject: str
    text: str
    html: str


class EmailRenderer(Protocol):
    def render(self, template: str, data: dict[str, Any]) -> RenderedEmail: ...


class Mailer(Protocol):
    """Delivers one message. Raises TransientFailure or PermanentFailure on refusal."""

    async def deliver(self, *, to_address: str, message_id: str, email: RenderedEmail) -> str: ...


class AddressValidator(Protocol):
    def normalize(self, address: str) -> str:
        """The address in canonical form; raises ValidationFailed(field="to") if it is not one."""
        ...


class Sealed(msgspec.Struct, frozen=True):
    """A PHI value encrypted at rest, with the id of the key that sealed it."""

    key_id: str
    blob: bytes  # nonce || ciphertext || tag


class Cipher(Protocol):
    """Seals PHI for storage. ``context`` names the value's place (table.column:row id)."""

    active_key_id: str

    def seal(self, plaintext: bytes, context: str) -> Sealed: ...

    def open(self, sealed: Sealed, context: str) -> bytes: ...

    def needs_reseal(self, sealed: Sealed) -> bool: ...


class AuditLog(Protocol):
    """Appends to the audit trail inside the current transaction."""

    async def record(self, context: AuditContext, entry: AuditEntry) -> None: ...
