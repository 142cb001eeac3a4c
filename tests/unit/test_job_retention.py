"""Retention's use case: one walk over the old jobs in batches, a cutoff fixed for the day."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from domain.job_history.jobs import JOB_RETENTION, retention_job
from domain.job_history.retention import (
    RetentionRequest,
    drop_finished_before,
    retention_request,
)
from domain.jobs.model import JobStatus
from tests.fakes.job_history import FakeJobHistory, StoredJob

NOW = datetime(2031, 3, 9, 14, 30, tzinfo=UTC)
CUTOFF = datetime(2031, 2, 7, tzinfo=UTC)  # midnight of the day, less 30 days


def old(status: JobStatus, **fields: object) -> StoredJob:
    created = CUTOFF - timedelta(days=10)
    finished = created + timedelta(seconds=1) if status.is_final else None
    return StoredJob(
        id=uuid.uuid4(),
        status=status,
        created_at=created,
        finished_at=finished,
        **fields,  # type: ignore[arg-type]
    )


def test_the_cutoff_is_the_days_midnight_less_the_window() -> None:
    assert retention_request(NOW, 30).before == CUTOFF
    assert retention_request(NOW.replace(hour=23, minute=59), 30).before == CUTOFF


def test_the_days_job_is_the_same_request_all_day() -> None:
    morning, evening = retention_job(NOW.replace(hour=0), 30), retention_job(NOW, 30)
    assert morning.idempotency_key == evening.idempotency_key == "daily:2031-03-09"
    assert morning.request == evening.request and morning.payload == evening.payload
    assert morning.kind is JOB_RETENTION and morning.owner_id == "system"
    decoded = msgspec.convert(morning.payload, RetentionRequest)
    assert decoded.before == CUTOFF


def test_a_payload_without_a_time_zone_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"before": "2031-02-07T00:00:00"}, RetentionRequest)


async def test_one_walk_drops_only_old_finished_unkept_jobs() -> None:
    dropped = [old(JobStatus.SUCCEEDED), old(JobStatus.FAILED), old(JobStatus.CANCELLED)]
    dropped += [old(JobStatus.SUCCEEDED) for _ in range(6)]
    kept = [
        old(JobStatus.RUNNING),
        old(JobStatus.QUEUED),
        old(JobStatus.RETRYING),
        old(JobStatus.SUCCEEDED, referenced=True),
        old(JobStatus.FAILED, locked=True),
        StoredJob(  # created before the cutoff, finished after it
            id=uuid.uuid4(),
            status=JobStatus.SUCCEEDED,
            created_at=CUTOFF - timedelta(days=1),
            finished_at=CUTOFF + timedelta(hours=1),
        ),
        StoredJob(
            id=uuid.uuid4(),
            status=JobStatus.SUCCEEDED,
            created_at=CUTOFF + timedelta(days=1),
            finished_at=CUTOFF + timedelta(days=1),
        ),
    ]
    history = FakeJobHistory(dropped + kept)

    counts = await drop_finished_before(history, CUTOFF, batch=4)

    assert set(history.jobs) == {job.id for job in kept}
    assert counts == {"walked": len(dropped) + len(kept) - 1, "dropped": len(dropped)}
    assert history.batches == 4  # 15 jobs walked 4 at a time: the last batch is short


async def test_nothing_old_means_one_empty_batch() -> None:
    history = FakeJobHistory([])
    assert await drop_finished_before(history, CUTOFF) == {"walked": 0, "dropped": 0}
    assert history.batches == 1
