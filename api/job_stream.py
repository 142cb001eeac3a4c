"""A job's status changes as server-sent events, read from ``job_events``.

The history table is the one source: the stream first replays what is
there after the client's ``Last-Event-ID``, then polls for more, and ends
once the newest event is a final status. Polling (rather than LISTEN/NOTIFY)
keeps the stream correct across replicas and reconnects at the price of one
small query per tick. A
stream is bounded in time so a forgotten tab does not hold a connection
forever; the client reconnects with ``Last-Event-ID`` and loses nothing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import msgspec
import structlog
from litestar.response import ServerSentEventMessage

from domain.jobs.model import JobError, JobEvent, JobStatus
from domain.jobs.ports import JobStore
from domain.logging import exception_fields

log = structlog.get_logger(__name__)

EVENT_TYPE = "status"


class StreamPolicy(msgspec.Struct, frozen=True):
    poll_seconds: float = 0.25
    max_seconds: float = 600.0
    keepalive_seconds: float = 15.0  # a comment line, so proxies do not drop an idle stream
    recheck_seconds: float = 5.0  # how often a quiet stream re-reads the job itself


class StatusChange(msgspec.Struct, frozen=True, rename="camel"):
    status: JobStatus
    attempt: int
    at: datetime
    error: JobError | None


def _message(event: JobEvent) -> ServerSentEventMessage:
    data = StatusChange(
        status=event.to_status, attempt=event.attempt, at=event.at, error=event.error
    )
    return ServerSentEventMessage(
        data=msgspec.json.encode(data).decode(), event=EVENT_TYPE, id=event.id
    )


async def status_events(
    store: JobStore,
    job_id: uuid.UUID,
    after_id: int = 0,
    policy: StreamPolicy | None = None,
) -> AsyncIterator[ServerSentEventMessage]:
    """The job's events after ``after_id``, then new ones as they land, until the job's
    newest status is final (an earlier final status, before a resubmission, does not end it).

    A failure mid-stream (the database gone) ends the stream quietly: the
    response has started, so there is no status left to send, and the
    client's reconnect with ``Last-Event-ID`` resumes where it stopped.
    """
    try:
        async for message in _follow(store, job_id, after_id, policy or StreamPolicy()):
            yield message
    except Exception as exc:  # see above; logged by type only, never by text
        log.warning("job_stream_failed", job_id=str(job_id), **exception_fields(exc))


async def _follow(
    store: JobStore, job_id: uuid.UUID, after_id: int, policy: StreamPolicy
) -> AsyncIterator[ServerSentEventMessage]:
    started = last_sent = time.monotonic()
    last_recheck = float("-inf")
    while (now := time.monotonic()) - started < policy.max_seconds:
        batch = await store.events(job_id, after_id)
        for event in batch:
            yield _message(event)
            after_id = event.id
        # Only the newest status counts: a failed job that an admin resubmitted has
        # a final event in its history and is live again after it.
        if batch and batch[-1].to_status.is_final:
            return
        if batch:
            last_sent = now
        elif now - last_recheck >= policy.recheck_seconds:
            # A client resuming after the final event, or a job deleted meanwhile,
            # would otherwise wait out the whole bound for an event that never comes.
            last_recheck = now
            job = await store.get(job_id)
            if job is None or job.status.is_final:
                return
        if now - last_sent >= policy.keepalive_seconds:
            last_sent = now
            yield ServerSentEventMessage(comment="keep-alive")
        await asyncio.sleep(policy.poll_seconds)
