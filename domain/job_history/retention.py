"""The ``jobs.retention`` job: finished jobs older than JOB_RETENTION_DAYS go, with their events.

Why batched deletes and not partitions dropped whole: ``jobs.id`` is what
uploads, records, documents, scans and e-mails reference, and PostgreSQL
cannot keep a foreign key to a table partitioned by time unless the key holds
the time; and dropping a month of ``job_events`` would also take the history
of the jobs that are kept (a running job, a job a record still points at).
So the job walks the jobs in creation order (the ``jobs_page`` index), in
batches of ``PRUNE_BATCH``, each its own short transaction that skips any row
another transaction holds (``FOR UPDATE SKIP LOCKED``): the hot path never
waits for retention, and retention never waits for the hot path.

What is kept whatever its age: a job that is not finished (queued, running,
retrying), one that finished within the window, and one that a row of another
table references without going with it (the schema says which: a foreign key
without ON DELETE CASCADE keeps its job; ``job_events`` and ``email_messages``
go with theirs). An Idempotency-Key therefore holds for at least the window
after its job finished.

The payload names the cutoff (midnight UTC of the planning day, less the
window), so a run retried tomorrow drops what it was asked to and no more.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import msgspec

from domain.job_history.ports import JobHistory, Position
from domain.jobs.model import Job

PRUNE_BATCH = 1000


class RetentionRequest(msgspec.Struct, frozen=True, rename="camel"):
    """Drop what finished before ``before``."""

    before: datetime

    def __post_init__(self) -> None:  # a payload nobody could have sent
        if self.before.tzinfo is None:
            raise ValueError("a retention cutoff needs a time zone")


def retention_request(now: datetime, retention_days: int) -> RetentionRequest:
    """The cutoff of ``now``'s UTC day: the same all day long, so the day's job planned twice
    (two schedulers, a restart) is the same request and finds the first."""
    midnight = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    return RetentionRequest(before=midnight - timedelta(days=retention_days))


async def drop_finished_before(
    history: JobHistory, before: datetime, batch: int = PRUNE_BATCH
) -> dict[str, int]:
    """Walk every job created before ``before`` once; counts what was looked at and dropped."""
    walked = dropped = 0
    after: Position | None = None
    while True:
        step = await history.prune(before, after, batch)
        walked += step.walked
        dropped += step.dropped
        if step.last is None or step.walked < batch:
            return {"walked": walked, "dropped": dropped}
        after = step.last


async def prune_job_history(
    job: Job, payload: RetentionRequest, *, job_history: JobHistory
) -> dict[str, Any]:
    """The ``jobs.retention`` handler; its result counts the jobs looked at and dropped."""
    counts = await drop_finished_before(job_history, payload.before)
    return {"before": payload.before.isoformat(), **counts}
