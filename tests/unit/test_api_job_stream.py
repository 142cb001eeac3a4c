"""The job event stream's ending rules, against a scripted store (no IO)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from api.job_stream import StreamPolicy, status_events
from domain.jobs.model import Job, JobEvent, JobStatus

FAST = StreamPolicy(poll_seconds=0.01, max_seconds=0.3, keepalive_seconds=0.05, recheck_seconds=10)
JOB_ID = uuid.uuid4()


def event(event_id: int, status: JobStatus) -> JobEvent:
    return JobEvent(
        id=event_id,
        job_id=JOB_ID,
        from_status=None,
        to_status=status,
        attempt=0,
        error=None,
        at=datetime.now(UTC),
    )


def job(status: JobStatus) -> Job:
    now = datetime.now(UTC)
    return Job(
        id=JOB_ID, kind="system.noop", queue="default", status=status, payload={}, result=None,
        error=None, attempts=0, max_attempts=2, owner_id="u", idempotency_key=None,
        request_hash=None, run_after=now, heartbeat_at=None, created_at=now, started_at=None,
        finished_at=None,
    )  # fmt: skip


class ScriptedStore:
    def __init__(self, events: list[JobEvent], status: JobStatus | None, fail: bool = False):
        self._events = events
        self._status = status
        self._fail = fail

    async def events(self, job_id: uuid.UUID, after_id: int = 0) -> list[JobEvent]:
        if self._fail:
            raise OSError("connection to server lost; secret text")
        return [e for e in self._events if e.id > after_id]

    async def get(self, job_id: uuid.UUID) -> Job | None:
        return job(self._status) if self._status else None


async def collect(store, after_id: int = 0) -> list:
    return [m async for m in status_events(store, JOB_ID, after_id, FAST)]  # type: ignore[arg-type]


async def test_a_quiet_stream_sends_keepalives_and_ends_at_its_time_bound() -> None:
    messages = await collect(ScriptedStore([event(1, JobStatus.QUEUED)], JobStatus.QUEUED))
    assert messages[0].id == 1 and messages[0].event == "status"
    comments = [m for m in messages[1:] if m.comment == "keep-alive"]
    assert comments and len(comments) == len(messages) - 1


RESUBMITTED = [
    event(1, JobStatus.QUEUED),
    event(2, JobStatus.RUNNING),
    event(3, JobStatus.FAILED),
    event(4, JobStatus.QUEUED),  # an admin's retry
]


async def test_the_stream_ends_when_the_newest_status_is_final() -> None:
    events = [*RESUBMITTED, event(5, JobStatus.RUNNING), event(6, JobStatus.SUCCEEDED)]
    messages = await collect(ScriptedStore(events, JobStatus.SUCCEEDED))
    assert [m.id for m in messages] == [1, 2, 3, 4, 5, 6]


async def test_a_final_status_before_a_resubmission_does_not_end_the_stream() -> None:
    messages = await collect(ScriptedStore(RESUBMITTED, JobStatus.QUEUED))
    assert [m.id for m in messages if m.event == "status"] == [1, 2, 3, 4]
    assert messages[-1].comment == "keep-alive"  # still following the live job


async def test_a_deleted_job_ends_the_stream() -> None:
    assert await collect(ScriptedStore([], None)) == []


async def test_a_store_failure_ends_the_stream_quietly() -> None:
    assert await collect(ScriptedStore([], JobStatus.QUEUED, fail=True)) == []
