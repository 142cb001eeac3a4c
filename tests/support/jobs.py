"""Helpers for tests that drive jobs through the real store and sender."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

from domain.adapters.bootstrap import Services
from domain.errors import DatabaseUnavailable
from domain.jobs.model import Job, JobKind, NewJob
from domain.jobs.ports import MessageSender
from domain.jobs.submit import submit_job
from domain.jobs.system import NOOP
from tests.support.rows import rows


class RecordingSender:
    """The real sender, plus a record of what was sent and with which delay."""

    def __init__(self, inner: MessageSender) -> None:
        self.inner = inner
        self.sent: list[tuple[uuid.UUID, float]] = []

    async def send(self, job: Job, delay_seconds: float = 0.0) -> None:
        self.sent.append((job.id, delay_seconds))
        await self.inner.send(job, delay_seconds)

    async def close(self) -> None:
        await self.inner.close()


async def submit_noop(
    services: Services, owner_id: str = "user-1", kind: JobKind = NOOP, **payload: object
) -> Job:
    new = NewJob(kind=kind, owner_id=owner_id, payload=dict(payload))
    return (await submit_job(services.uow, services.sender, new)).job


async def insert_without_sending(services: Services, owner_id: str = "user-1") -> Job:
    """A committed job whose message was never sent: what an API killed after commit leaves."""
    async with services.uow() as uow:
        submission = await uow.jobs.add(NewJob(kind=NOOP, owner_id=owner_id, payload={}))
    return submission.job


def wait_until(
    predicate: Callable[[], bool], *, timeout: float = 30.0, interval: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


async def async_wait_until(
    predicate: Callable[[], object], *, timeout: float = 30.0, interval: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def jobs_of_kind(database_url: str, kind: str) -> list[dict]:
    """The rows of every job of ``kind`` (a scheduler's upkeep jobs, say)."""
    return rows(database_url, "SELECT * FROM jobs WHERE kind = %s", (kind,))


def once_a_day(jobs: list[dict]) -> bool:
    """Whether a daily kind's jobs are there, one per UTC day's key: a run that crosses
    midnight rightly holds the next day's too."""
    keys = [job["idempotency_key"] for job in jobs]
    return bool(keys) and all(k.startswith("daily:") for k in keys) and len(set(keys)) == len(keys)


class FlakyStore:
    """The real job store, whose ``method`` fails with DatabaseUnavailable ``failures`` times
    (always, with None) before it works: the database restarting under a worker.

    With ``after_commit`` each failing call first runs for real, so its write lands and
    only its answer is lost, as when the connection drops during COMMIT.
    """

    def __init__(
        self, inner: object, method: str, failures: int | None, *, after_commit: bool = False
    ) -> None:
        self.inner = inner
        self.method = method
        self.failures = failures
        self.after_commit = after_commit
        self.calls = 0

    def __getattr__(self, name: str) -> object:
        real = getattr(self.inner, name)
        if name != self.method:
            return real

        async def flaky(*args: object, **kwargs: object) -> object:
            self.calls += 1
            if self.failures is None or self.calls <= self.failures:
                if self.after_commit:
                    await real(*args, **kwargs)
                raise DatabaseUnavailable("the database is restarting")
            return await real(*args, **kwargs)

        return flaky


async def cancel_job(services: Services, job_id: uuid.UUID) -> Job:
    """An operator's cancel, in a transaction of its own (as job control does it)."""
    async with services.uow() as uow:
        return await uow.jobs.cancel(job_id)


async def resubmit_job(services: Services, job_id: uuid.UUID, extra_attempts: int) -> Job:
    async with services.uow() as uow:
        return await uow.jobs.resubmit(job_id, extra_attempts)
