"""Job attempts on the worker process's event loop, handed over by the queue consumers.

A consumer starts the attempts of the messages it fetches here, all of one fetch
in one hand-over, and goes on fetching: no thread waits for an attempt
(domain/adapters/jobs/messaging.py). A worker thread waiting for the loop cost
every attempt two hand-overs between threads, the largest item of a worker's time
after the claim and success statements themselves (py-spy under bench.throughput).

``--threads`` still says how many handlers a process runs at once: an attempt
takes one of that many slots for its claim and its handler, as it held a worker
thread before, and lets go of it while its outcome is written. The message is
acknowledged only once the attempt is over and its outcome written; until then it
counts against its consumer's prefetch (``2 x --threads``), so a process holds no
more messages than before.

Once the worker begins to stop (SIGTERM), an attempt that has not yet had a slot
does not start: its message goes back on the queue at once (``PUT_BACK``), for
another worker, while the attempts under way finish and are acknowledged.

An attempt whose claim cannot be written (the database stayed away for
``JOB_STALE_AFTER_SECONDS``) ends there and its message is acknowledged: the job
is still due in PostgreSQL, and the relay sends it again once the database
answers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import uuid
from collections.abc import Callable

import structlog

from domain.adapters.jobs.acks import PUT_BACK
from domain.jobs.model import JobKind
from domain.logging import exception_fields
from workers.handlers import BoundHandler
from workers.lifecycle import ClaimDeferred, LifecycleRunner

log = structlog.get_logger(__name__)


class LoopAttempts:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        runner: LifecycleRunner,
        handler_of: Callable[[JobKind], BoundHandler],
        slots: int,
    ) -> None:
        self._loop = loop
        self._runner = runner
        self._handler_of = handler_of
        self._slots = asyncio.Semaphore(slots)
        self._stopping = False
        self._running: set[asyncio.Task[str | None]] = set()  # held until done

    def begin_many(
        self, starts: list[tuple[JobKind, str]]
    ) -> list[concurrent.futures.Future[str | None]]:
        """From any thread: start an attempt of each (kind, job id) on the loop, all in one
        hand-over; each future is done once its attempt is over (its outcome written, given
        up, or the message dropped), with ``PUT_BACK`` if it never started."""
        overs: list[concurrent.futures.Future[str | None]] = [
            concurrent.futures.Future() for _ in starts
        ]
        self._loop.call_soon_threadsafe(self._start_many, starts, overs)
        return overs

    def stop_starting(self) -> None:
        """From any thread: attempts not yet started will not start (the worker is stopping)."""
        self._stopping = True

    def _start_many(
        self,
        starts: list[tuple[JobKind, str]],
        overs: list[concurrent.futures.Future[str | None]],
    ) -> None:
        for (kind, job_id), over in zip(starts, overs, strict=True):
            task = self._loop.create_task(self._attempt(kind, job_id))
            self._running.add(task)
            task.add_done_callback(functools.partial(self._finished, over=over))

    def _finished(
        self, task: asyncio.Task[str | None], *, over: concurrent.futures.Future[str | None]
    ) -> None:
        self._running.discard(task)
        over.set_result(None if task.cancelled() else task.result())

    async def _attempt(self, kind: JobKind, job_id: str) -> str | None:
        try:
            async with self._slots:
                if self._stopping:
                    return PUT_BACK
                outcome = await self._runner.start(uuid.UUID(job_id), self._handler_of(kind))
            if outcome is not None:
                await outcome
        except ClaimDeferred:
            pass  # logged by the lifecycle; the relay sends the job again
        except Exception as exc:  # a fault of ours: the relay takes the job back
            log.error("job_attempt_crashed", job_id=job_id, kind=kind.name, **exception_fields(exc))
        return None
