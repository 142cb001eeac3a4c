"""Submitting a command as a durable job: the outbox pattern in one function.

The job row is written in the same transaction as the business rows the
command creates; the message to the workers is sent only after that commit.
If the process dies between the two, the relay sends it later; if the send
fails, the same. So a job that a client was told about always runs.
"""

from __future__ import annotations

import functools
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog

from domain.clock import Clock
from domain.jobs.model import SYSTEM_OWNER, Job, JobKind, NewJob, Planner
from domain.jobs.ports import MessageSender, Submission, UnitOfWork
from domain.transactions import UnitOfWorkFactory

log = structlog.get_logger(__name__)

BusinessWrite = Callable[[UnitOfWork, Job], Awaitable[None]]


def canonical_request(command: msgspec.Struct | dict) -> bytes:
    """A command's content, stable across key order, to compare idempotent replays (NewJob)."""
    return msgspec.json.encode(command, order="sorted")


def new_job_id() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, the version, 74 random bits.

    Ids made one after another sort one after another, so a new job's index entries
    (the jobs primary key, job_events' job_id) land on the few pages the newest jobs
    already use rather than on a random page of months of history: an insert costs
    the same whatever the tables hold (bench/job_history.py). 74 random bits keep an
    id unguessable; the time it shows is the job's createdAt, which its owner sees.
    """
    millis = time.time_ns() // 1_000_000
    random = int.from_bytes(os.urandom(10), "big")  # 80 bits, 74 of them used
    value = (
        (millis & (1 << 48) - 1) << 80
        | 0x7 << 76  # version 7
        | (random >> 68) << 64  # rand_a, 12 bits
        | 0b10 << 62  # the RFC variant
        | random & (1 << 62) - 1  # rand_b, 62 bits
    )
    return uuid.UUID(int=value)


async def submit_job(
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    sender: MessageSender,
    new: NewJob,
    write: BusinessWrite | None = None,
    *,
    job_id: uuid.UUID | None = None,
) -> Submission:
    """Create ``new`` (or find its idempotent twin) and tell the workers about it.

    ``write`` adds the command's business rows in the job's transaction; it is
    skipped when the idempotency key matched an earlier job, so a replay
    creates nothing. A job without one is a single INSERT, so it is written
    without a transaction around it (``autocommit``): one round trip to
    PostgreSQL instead of three (BEGIN, INSERT, COMMIT), the enqueue's largest cost.
    """
    async with uow_factory(autocommit=write is None) as uow:
        submission = await enqueue_job(uow, new, write, job_id=job_id)
    await send_submitted(sender, submission)
    return submission


async def enqueue_job(
    uow: UnitOfWork,
    new: NewJob,
    write: BusinessWrite | None = None,
    *,
    job_id: uuid.UUID | None = None,
) -> Submission:
    """``submit_job`` inside a transaction the caller already holds, for a service whose
    command writes its own rows and one or more jobs at once.

    Nothing is sent: the caller hands the submission to ``send_submitted`` once
    its transaction has committed (a message sent before the commit could reach
    a worker before the row exists).
    """
    submission = await uow.jobs.add(new, job_id=job_id)
    if submission.created and write is not None:
        await write(uow, submission.job)
    return submission


async def send_submitted(sender: MessageSender, *submissions: Submission | None) -> None:
    """After the commit: tell the workers about each job the transaction created."""
    for submission in submissions:
        if submission is not None and submission.created:
            await send_quietly(sender, submission.job)


async def send_quietly(sender: MessageSender, job: Job, delay_seconds: float = 0.0) -> None:
    """Send, and on failure only log: the job is committed and the relay will send it."""
    try:
        await sender.send(job, delay_seconds)
    except Exception as exc:  # the relay is the safety net for every kind of send failure
        log.warning("job_send_failed", job_id=str(job.id), kind=job.kind, error=type(exc).__name__)


def daily_job(kind: JobKind, now: datetime, payload: dict[str, object]) -> NewJob:
    """The platform's own job of ``kind`` for the UTC day of ``now``: keyed by that day, so two
    schedulers, a restart or a retried enqueue find the first instead of making another."""
    return NewJob(
        kind=kind,
        owner_id=SYSTEM_OWNER,
        payload=payload,
        idempotency_key=f"daily:{now.astimezone(UTC).date().isoformat()}",
        request=canonical_request(payload),
    )


async def plan_the_day(
    kind: JobKind,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    sender: MessageSender,
    clock: Clock,
) -> Submission:
    """The day's job of a daily ``kind`` that needs no payload, found if already made."""
    return await submit_job(uow_factory, sender, daily_job(kind, clock.now(), {}))


def planner_of(kind: JobKind) -> Planner:
    """A periodic kind's planner: the one it declares, else its job of the day."""
    if kind.periodic is None:
        raise TypeError(f"{kind.name} is not periodic")
    return kind.periodic.plan or functools.partial(plan_the_day, kind)


def interval_job(kind: JobKind, now: datetime, seconds: float) -> NewJob:
    """The platform's own job of ``kind`` for the interval of ``seconds`` that ``now`` falls in:
    keyed by that interval, so two schedulers plan one."""
    bucket = int(now.astimezone(UTC).timestamp() // max(seconds, 1.0))
    return NewJob(
        kind=kind,
        owner_id=SYSTEM_OWNER,
        payload={},
        idempotency_key=f"every:{bucket}",
        request=canonical_request({}),
    )


async def plan_when_found(
    found: Callable[[Any], Awaitable[object]],
    kind: JobKind,
    now: datetime,
    seconds: float,
    *,
    uow_factory: UnitOfWorkFactory[Any],
    sender: MessageSender,
) -> Submission | None:
    """The interval's job of ``kind`` (see ``interval_job``) when ``found``, asked in a
    transaction of its own, finds work for it: most looks find none, and write nothing."""
    async with uow_factory() as uow:
        if not await found(uow):
            return None
    return await submit_job(uow_factory, sender, interval_job(kind, now, seconds))
