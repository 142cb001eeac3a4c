"""What the jobs feature needs from the outside: job store, message channel, exclusive runs."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol, TypeVar

import msgspec

from domain.auditing import AuditLog
from domain.jobs.model import Job, JobError, JobEvent, JobStatus, NewJob

T = TypeVar("T")


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

    async def get(self, job_id: uuid.UUID, *, lock: bool = False) -> Job | None: ...

    async def cancel(self, job_id: uuid.UUID) -> Job: ...

    async def resubmit(self, job_id: uuid.UUID, extra_attempts: int) -> Job: ...

    async def report_progress(self, job_id: uuid.UUID, result: dict[str, Any]) -> None:
        """Show ``result`` on a running job before it ends (its final result replaces it)."""
        ...


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

    async def heartbeat_many(self, attempts: list[tuple[uuid.UUID, int]]) -> set[uuid.UUID]:
        """Refresh the heartbeat of running attempts; returns the ids still owned by them."""
        ...

    async def succeed(
        self, job_id: uuid.UUID, attempt: int, result: dict[str, Any] | None
    ) -> Job | None: ...

    async def retry(
        self, job_id: uuid.UUID, attempt: int, error: JobError, run_after: datetime
    ) -> Job | None: ...

    async def fail(self, job_id: uuid.UUID, attempt: int, error: JobError) -> Job | None: ...

    async def due_for_send(self, grace_seconds: float, limit: int) -> list[Job]: ...

    async def recover_stale(self, stale_after_seconds: float, limit: int) -> list[Job]: ...


class MessageSender(Protocol):
    """Tells the workers that a job is due. Losing a message loses no job: the relay re-sends."""

    async def send(self, job: Job, delay_seconds: float = 0.0) -> None: ...

    async def close(self) -> None:
        """Let go of its connections: the process is stopping."""
        ...


class ExclusiveRuns(Protocol):
    """``async with exclusive("anchor") as held``: held is False while another run holds it."""

    def __call__(self, name: str) -> AbstractAsyncContextManager[bool]: ...


class UnitOfWork(Protocol):
    """What the jobs feature reads and writes in one database transaction."""

    jobs: JobRepository
    audit: AuditLog


class HeldSteps(Protocol):
    """A job handler's database step, retried while the database is briefly away for as long
    as the running attempt holds its job (workers/durable.py); raises DatabaseUnavailable
    once the hold has passed."""

    async def __call__(self, step: Callable[[], Awaitable[T]]) -> T: ...
