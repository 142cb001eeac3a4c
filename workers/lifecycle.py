"""The one path every job attempt takes: claim, heartbeat, run, record the outcome.

Actors do not touch job state themselves; they hand their handler to
``LifecycleRunner.run``. That keeps the rules in one place:

- a message for a job that is not due (a duplicate, or one for a job already
  running, finished or cancelled) claims nothing and is dropped;
- while the handler runs, a heartbeat keeps ``heartbeat_at`` fresh, so the relay
  can tell a slow job from a dead worker;
- ``PermanentFailure`` fails the job at once; any other exception is retried on
  the kind's schedule until its attempts run out, then the job fails;
- each outcome is written for the attempt that was claimed, so a worker that
  was presumed dead cannot overwrite a later attempt.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import structlog

from domain.clock import Clock
from domain.errors import DomainError, JobFailure
from domain.jobs import Job, JobError, kind_named
from domain.logging import exception_fields
from domain.ports import JobStore, MessageSender
from domain.submit import send_quietly

log = structlog.get_logger(__name__)

Handler = Callable[[Job], Awaitable[dict[str, Any] | None]]

UNEXPECTED = JobError(code="internal_error", message="the job failed unexpectedly")


def error_of(exc: BaseException) -> JobError:
    """A client-safe description of why an attempt failed; unexpected errors say nothing more."""
    if isinstance(exc, DomainError):
        return JobError(code=exc.code, message=exc.message)
    return UNEXPECTED


class Heartbeats:
    """One heartbeat loop per process for all its running attempts: one UPDATE per beat."""

    def __init__(self, store: JobStore, interval_seconds: float) -> None:
        self._store = store
        self._interval = interval_seconds
        self._running: dict[uuid.UUID, int] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, job: Job) -> None:
        self._running[job.id] = job.attempts
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._beat())

    def discard(self, job: Job) -> None:
        if self._running.get(job.id) == job.attempts:
            del self._running[job.id]

    async def _beat(self) -> None:
        while self._running:
            await asyncio.sleep(self._interval)
            beating = list(self._running.items())
            if not beating:
                continue
            try:
                alive = await self._store.heartbeat_many(beating)
            except Exception as exc:  # a missed beat is not fatal; the next one may pass
                log.warning("job_heartbeat_failed", **exception_fields(exc))
                continue
            for job_id, attempt in beating:
                if job_id not in alive and self._running.get(job_id) == attempt:
                    del self._running[job_id]  # recovered by the relay: no longer ours


class LifecycleRunner:
    def __init__(
        self,
        store: JobStore,
        sender: MessageSender,
        clock: Clock,
        heartbeat_seconds: float,
    ) -> None:
        self._store = store
        self._sender = sender
        self._clock = clock
        self._heartbeats = Heartbeats(store, heartbeat_seconds)

    async def run(self, job_id: uuid.UUID, handler: Handler) -> Job | None:
        """Run one attempt of ``job_id``; the job as recorded after it, or None if dropped."""
        job = await self._store.claim(job_id)
        if job is None:
            log.info("job_message_dropped", job_id=str(job_id))
            return None
        with structlog.contextvars.bound_contextvars(
            job_id=str(job.id), kind=job.kind, attempt=job.attempts
        ):
            log.info("job_started")
            self._heartbeats.add(job)
            try:
                result = await handler(job)
            except Exception as exc:
                return await self._record_failure(job, exc)
            finally:
                self._heartbeats.discard(job)
            finished = await self._store.succeed(job.id, job.attempts, result)
            if finished is None:
                log.warning("job_outcome_stale")
            else:
                log.info("job_succeeded")
            return finished

    async def _record_failure(self, job: Job, exc: Exception) -> Job | None:
        error = error_of(exc)
        if not isinstance(exc, DomainError):
            log.error("job_crashed", **exception_fields(exc))
        retryable = not (isinstance(exc, JobFailure) and not exc.retryable)
        delay = kind_named(job.kind).next_retry_delay(job.attempts, job.max_attempts)
        if retryable and delay is not None:
            run_after = self._clock.now() + timedelta(seconds=delay)
            recorded = await self._store.retry(job.id, job.attempts, error, run_after)
            if recorded is not None:
                log.info("job_retrying", error_code=error.code, delay_seconds=delay)
                await send_quietly(self._sender, recorded, delay)
                return recorded
        else:
            recorded = await self._store.fail(job.id, job.attempts, error)
            if recorded is not None:
                log.warning("job_failed", error_code=error.code)
                return recorded
        log.warning("job_outcome_stale")
        return None
