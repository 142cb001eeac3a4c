"""The one path every job attempt takes: claim, heartbeat, run, record the outcome.

Actors do not touch job state themselves; they hand their handler to
``LifecycleRunner.run``. That keeps the rules in one place:

- a message for a job that is not due (a duplicate, or one for a job already
  running, finished or cancelled) claims nothing and is dropped;
- while the handler runs, and until its outcome is written, a heartbeat keeps
  ``heartbeat_at`` fresh, so the relay can tell a slow job from a dead worker;
- ``PermanentFailure`` fails the job at once; any other exception is retried on
  the kind's schedule until its attempts run out, then the job fails;
- a handler still running after its kind's ``timeout_seconds`` is cancelled, and
  the attempt fails as ``attempt_timed_out`` (retried like any transient failure);
- each outcome is written for the attempt that was claimed, so a worker that
  was presumed dead cannot overwrite a later attempt;
- the database may blink (a restart, a failover): the claim and the outcome
  are retried while it is away (``workers/durable.py``). An outcome is given
  up only when the attempt has not reached the database for
  ``JOB_STALE_AFTER_SECONDS``, the point at which the relay takes the job back;
  a claim that cannot be written ends the attempt (``ClaimDeferred``), and the
  job, still due in PostgreSQL, is sent again by the relay: it is never lost.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import structlog

from domain.catalogue import kind_named
from domain.clock import Clock
from domain.errors import DatabaseUnavailable, DomainError, JobFailure, TransientFailure
from domain.jobs.model import Job, JobError, JobStatus
from domain.jobs.ports import JobStore, MessageSender
from domain.jobs.submit import send_quietly
from domain.logging import exception_fields
from workers.durable import hold_for_attempt, release_attempt, write_until
from workers.outages import DATABASE

log = structlog.get_logger(__name__)

Handler = Callable[[Job], Awaitable[dict[str, Any] | None]]

UNEXPECTED = JobError(code="internal_error", message="the job failed unexpectedly")
TIMED_OUT = "the attempt ran longer than its kind allows"
DEFAULT_STALE_AFTER_SECONDS = 30.0


class _Unrecorded(Exception):
    """An attempt's outcome could not be written before the attempt lost its hold."""


class AttemptTimedOut(TransientFailure):
    code = "attempt_timed_out"


class ClaimDeferred(Exception):
    """Raised when a job's claim could not be written (the database stayed away): the attempt
    ends there. The job is still due in PostgreSQL, so the relay sends it again."""


def error_of(exc: BaseException) -> JobError:
    """A client-safe description of why an attempt failed; unexpected errors say nothing more."""
    if isinstance(exc, DomainError):
        return JobError(code=exc.code, message=exc.message)
    return UNEXPECTED


class Heartbeats:
    """One heartbeat loop per process for all its running attempts: one UPDATE per beat.

    It also knows until when each attempt holds its job: the relay takes a running job
    back once its heartbeat is ``stale_after`` seconds old, so an attempt holds its job
    until ``stale_after`` after its last beat that reached the database.
    """

    def __init__(
        self, store: JobStore, interval_seconds: float, stale_after_seconds: float
    ) -> None:
        self._store = store
        self._interval = interval_seconds
        self._stale_after = stale_after_seconds
        self._running: dict[uuid.UUID, int] = {}
        self._held_until: dict[uuid.UUID, float] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, job: Job) -> None:
        """Start beating for ``job``, just claimed (the claim wrote its first heartbeat)."""
        self._running[job.id] = job.attempts
        self._held_until[job.id] = time.monotonic() + self._stale_after
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._beat())

    def discard(self, job: Job) -> None:
        if self._running.get(job.id) == job.attempts:
            del self._running[job.id]
            self._held_until.pop(job.id, None)

    def held_until(self, job: Job) -> float:
        """The ``time.monotonic()`` after which the relay may take ``job`` back (0 once it has)."""
        if self._running.get(job.id) != job.attempts:
            return 0.0
        return self._held_until.get(job.id, 0.0)

    async def _beat(self) -> None:
        while self._running:
            await asyncio.sleep(self._interval)
            beating = list(self._running.items())
            if not beating:
                continue
            sent_at = time.monotonic()
            try:
                alive = await self._store.heartbeat_many(beating)
            except DatabaseUnavailable as exc:  # the next beat may pass; the outage is logged once
                DATABASE.failed(exc)
                continue
            except Exception as exc:  # a missed beat is not fatal; the next one may pass
                log.warning("job_heartbeat_failed", **exception_fields(exc))
                continue
            DATABASE.answered()
            for job_id, attempt in beating:
                if self._running.get(job_id) != attempt:
                    continue
                if job_id in alive:
                    self._held_until[job_id] = sent_at + self._stale_after
                else:  # recovered by the relay, or already finished: no longer ours
                    del self._running[job_id]
                    self._held_until.pop(job_id, None)


class LifecycleRunner:
    def __init__(
        self,
        store: JobStore,
        sender: MessageSender,
        clock: Clock,
        heartbeat_seconds: float,
        stale_after_seconds: float = DEFAULT_STALE_AFTER_SECONDS,
    ) -> None:
        self._store = store
        self._sender = sender
        self._clock = clock
        self._stale_after = stale_after_seconds
        self._heartbeats = Heartbeats(store, heartbeat_seconds, stale_after_seconds)
        self._recording: set[asyncio.Future[Job | None]] = set()  # held until done

    async def run(
        self, job_id: uuid.UUID, handler: Handler, time_limit: float | None = None
    ) -> Job | None:
        """Run one attempt of ``job_id``; the job as recorded after it, or None if dropped.

        Raises ``ClaimDeferred`` when the claim could not be written.
        """
        outcome = await self.start(job_id, handler, time_limit)
        return await outcome if outcome is not None else None

    async def start(
        self, job_id: uuid.UUID, handler: Handler, time_limit: float | None = None
    ) -> asyncio.Future[Job | None] | None:
        """Claim ``job_id`` and run its handler for at most ``time_limit`` seconds (by
        default its kind's ``timeout_seconds``); returns once the handler has returned,
        with the writing of the attempt's outcome under way: a future of the job as
        recorded after it (None if the outcome could not be written). None if the message
        was dropped.

        The caller may go on meanwhile, but must not acknowledge this job's message before
        the future is done. Raises ``ClaimDeferred`` when the claim could not be written.
        """
        job = await self._claim(job_id)
        if job is None:
            log.info("job_message_dropped", job_id=str(job_id))
            return None
        with structlog.contextvars.bound_contextvars(
            job_id=str(job.id), kind=job.kind, attempt=job.attempts
        ):
            log.info("job_started")
            self._heartbeats.add(job)
            held = hold_for_attempt(lambda: self._heartbeats.held_until(job))
            deadline = asyncio.timeout(
                time_limit if time_limit is not None else kind_named(job.kind).timeout_seconds
            )
            try:
                try:
                    async with deadline:
                        result = await handler(job)
                except Exception as exc:
                    # expired: the deadline's cancellation, not a TimeoutError of the handler's
                    failure = AttemptTimedOut(TIMED_OUT) if deadline.expired() else exc
                    outcome = self._record_failure(job, failure)
                else:
                    outcome = self._record_success(job, result)
            except BaseException:  # cancelled: no outcome is written, the relay will see
                self._heartbeats.discard(job)
                raise
            finally:
                release_attempt(held)
            # created in the attempt's logging context, which the task copies
            recording = asyncio.ensure_future(self._recorded(job, outcome))
        self._recording.add(recording)
        recording.add_done_callback(self._recording.discard)
        return recording

    async def _recorded(self, job: Job, outcome: Awaitable[Job | None]) -> Job | None:
        try:
            return await outcome
        except _Unrecorded:
            return None
        finally:
            self._heartbeats.discard(job)

    async def _claim(self, job_id: uuid.UUID) -> Job | None:
        patience = time.monotonic() + self._stale_after
        try:
            return await write_until(lambda: self._store.claim(job_id), lambda: patience)
        except DatabaseUnavailable:
            log.warning("job_claim_deferred", job_id=str(job_id))
            raise ClaimDeferred(str(job_id)) from None

    async def _settle(
        self, job: Job, target: JobStatus, write: Callable[[], Awaitable[Job | None]]
    ) -> Job | None:
        """Write an outcome of ``job``'s attempt while the attempt holds the job.

        A try can commit and lose its answer (the database went away in between); the
        next try then matches no row, so a refusal after a failed try is checked against
        the row before it is called stale.
        """
        failed_tries = 0

        async def counted() -> Job | None:
            nonlocal failed_tries
            try:
                return await write()
            except DatabaseUnavailable:
                failed_tries += 1
                raise

        held_until = lambda: self._heartbeats.held_until(job)  # noqa: E731
        try:
            recorded = await write_until(counted, held_until)
            if recorded is None and failed_tries:
                current = await write_until(lambda: self._store.get(job.id), held_until)
                if current and current.attempts == job.attempts and current.status is target:
                    return current
        except DatabaseUnavailable:
            # Out of time: the relay takes the job back and runs it again; effects that
            # cannot be undone were recorded, and are checked, by the handler.
            log.error("job_outcome_unrecorded", outcome=target.value)
            raise _Unrecorded from None
        return recorded

    async def _record_success(self, job: Job, result: dict[str, Any] | None) -> Job | None:
        finished = await self._settle(
            job, JobStatus.SUCCEEDED, lambda: self._store.succeed(job.id, job.attempts, result)
        )
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
            recorded = await self._settle(
                job,
                JobStatus.RETRYING,
                lambda: self._store.retry(job.id, job.attempts, error, run_after),
            )
            if recorded is not None:
                log.info("job_retrying", error_code=error.code, delay_seconds=delay)
                await send_quietly(self._sender, recorded, delay)
                return recorded
        else:
            recorded = await self._settle(
                job, JobStatus.FAILED, lambda: self._store.fail(job.id, job.attempts, error)
            )
            if recorded is not None:
                log.warning("job_failed", error_code=error.code)
                return recorded
        log.warning("job_outcome_stale")
        return None
