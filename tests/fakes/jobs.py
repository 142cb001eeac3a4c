"""Jobs in memory: the repository of a transaction, the store outside one, and a sender."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

from domain.clock import Clock
from domain.errors import Conflict, NotFound
from domain.jobs.model import Job, JobError, JobEvent, JobStatus, NewJob, check_transition
from domain.jobs.ports import JobPage, Submission
from tests.fakes.database import FakeDatabase


def new_job_row(new: NewJob, job_id: uuid.UUID, now: datetime) -> Job:
    return Job(
        id=job_id,
        kind=new.kind.name,
        queue=new.kind.queue,
        status=JobStatus.QUEUED,
        payload=msgspec.to_builtins(new.payload),
        result=None,
        error=None,
        attempts=0,
        max_attempts=new.kind.max_attempts,
        owner_id=new.owner_id,
        idempotency_key=new.idempotency_key,
        request_hash=(new.request or b"").hex() if new.idempotency_key else None,
        run_after=now,
        heartbeat_at=None,
        created_at=now,
        started_at=None,
        finished_at=None,
    )


class FakeJobRepository:
    """The outbox side: jobs added and moved inside the caller's transaction."""

    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._jobs: dict[uuid.UUID, Job] = database.table("jobs")
        self._clock = clock

    async def add(self, new: NewJob, job_id: uuid.UUID | None = None) -> Submission:
        if new.idempotency_key is not None:
            for job in self._jobs.values():
                same = (job.owner_id, job.kind, job.idempotency_key)
                if same == (new.owner_id, new.kind.name, new.idempotency_key):
                    if job.request_hash != (new.request or b"").hex():
                        raise Conflict("key reused", code="idempotency_key_reused")
                    return Submission(job, created=False)
        job = new_job_row(new, job_id or uuid.uuid4(), self._clock.now())
        self._jobs[job.id] = job
        return Submission(job, created=True)

    async def get(self, job_id: uuid.UUID, *, lock: bool = False) -> Job | None:
        return self._jobs.get(job_id)

    def _move(self, job_id: uuid.UUID, transition: str, **changes: Any) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFound("job not found")
        target = check_transition(transition, job.status)
        moved = msgspec.structs.replace(job, status=target, **changes)
        self._jobs[job_id] = moved
        return moved

    async def cancel(self, job_id: uuid.UUID) -> Job:
        return self._move(job_id, "cancel", finished_at=self._clock.now())

    async def report_progress(self, job_id: uuid.UUID, result: dict[str, Any]) -> None:
        job = self._jobs.get(job_id)
        if job is not None and job.status is JobStatus.RUNNING:
            self._jobs[job_id] = msgspec.structs.replace(job, result=result)

    async def resubmit(self, job_id: uuid.UUID, extra_attempts: int) -> Job:
        job = self._jobs.get(job_id)
        attempts = job.attempts if job else 0
        return self._move(
            job_id,
            "resubmit",
            max_attempts=attempts + extra_attempts,
            error=None,
            finished_at=None,
            run_after=self._clock.now(),
        )

    def put(self, job: Job) -> None:
        """Test setup: a job in whatever state the test needs."""
        self._jobs[job.id] = job


class FakeJobStore:
    """Reads outside a transaction, over the committed jobs."""

    def __init__(self, database: FakeDatabase) -> None:
        self._database = database

    async def get(self, job_id: uuid.UUID) -> Job | None:
        return self._database.table("jobs").get(job_id)

    async def page(
        self,
        *,
        owner_id: str | None,
        status: JobStatus | None,
        kind: str | None,
        limit: int,
        cursor: str | None,
    ) -> JobPage:
        jobs = sorted(
            (
                job
                for job in self._database.table("jobs").values()
                if (owner_id is None or job.owner_id == owner_id)
                and (status is None or job.status is status)
                and (kind is None or job.kind == kind)
            ),
            key=lambda job: (job.created_at, job.id),
            reverse=True,
        )
        return JobPage(jobs=jobs[:limit], next_cursor=None)

    async def events(self, job_id: uuid.UUID, after_id: int = 0) -> list[JobEvent]:
        return []


class RecordingSender:
    """The message channel: what was sent, and with which delay."""

    def __init__(self) -> None:
        self.sent: list[tuple[uuid.UUID, float]] = []

    async def send(self, job: Job, delay_seconds: float = 0.0) -> None:
        self.sent.append((job.id, delay_seconds))

    async def close(self) -> None:
        pass  # holds no connection


def failed(job: Job) -> Job:
    """Test setup: ``job`` after its last attempt failed."""
    return msgspec.structs.replace(
        job,
        status=JobStatus.FAILED,
        attempts=job.max_attempts,
        error=JobError(code="smtp_550", message="refused"),
    )
