"""An in-memory job table for retention: the same walk and the same keep rules as
domain/adapters/job_history/store.py (final and finished before the cutoff, not referenced
by a row that keeps it, not locked by someone else)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from domain.job_history.ports import Position, PruneStep
from domain.jobs.model import JobStatus


@dataclass
class StoredJob:
    id: uuid.UUID
    status: JobStatus
    created_at: datetime
    finished_at: datetime | None = None
    referenced: bool = False  # a row without ON DELETE CASCADE points at it
    locked: bool = False  # another transaction holds the row
    events: int = 3


class FakeJobHistory:
    def __init__(self, jobs: list[StoredJob]) -> None:
        self.jobs = {job.id: job for job in jobs}
        self.batches = 0

    async def prune(self, before: datetime, after: Position | None, limit: int) -> PruneStep:
        if before.tzinfo is None:
            raise TypeError("a naive cutoff cannot be compared with timestamptz")
        self.batches += 1
        walk = sorted(
            (job for job in self.jobs.values() if job.created_at < before),
            key=lambda job: (job.created_at, job.id),
        )
        if after is not None:
            walk = [job for job in walk if (job.created_at, job.id) > (after.created_at, after.id)]
        walked = walk[:limit]
        dropped = [
            job
            for job in walked
            if job.status.is_final
            and job.finished_at is not None
            and job.finished_at < before
            and not job.referenced
            and not job.locked
        ]
        for job in dropped:
            del self.jobs[job.id]
        last = Position(created_at=walked[-1].created_at, id=walked[-1].id) if walked else None
        return PruneStep(walked=len(walked), dropped=len(dropped), last=last)
