"""The safety net that makes Redis disposable: re-send what is due, revive what is stuck.

Two sweeps, both over PostgreSQL only:
- running jobs whose heartbeat is older than ``job_stale_after_seconds`` lost
  their worker (killed, OOM, machine gone): they go back to ``retrying`` (or
  ``failed`` when out of attempts) and are sent again;
- queued/retrying jobs due for longer than ``relay_grace_seconds`` that no
  worker claimed may have lost their message (Redis flushed, the API died
  between commit and send): they are sent again. A duplicate is harmless,
  the claim drops it.
"""

from __future__ import annotations

import time

import msgspec
import structlog

from domain.errors import DatabaseUnavailable
from domain.jobs.model import Job, JobStatus
from domain.jobs.ports import JobStore, MessageSender
from domain.logging import exception_fields
from domain.settings import Settings
from workers.outages import DATABASE, MESSAGE_BROKER

log = structlog.get_logger(__name__)


class RelayReport(msgspec.Struct, frozen=True):
    recovered: int
    abandoned: int
    resent: int


class Relay:
    def __init__(self, store: JobStore, sender: MessageSender, settings: Settings) -> None:
        self._store = store
        self._sender = sender
        self._settings = settings
        self._broker_down = False

    async def _send(self, job: Job) -> None:
        """Send, unless a send of this pass already failed: Redis is away, and every job
        picked here was marked sent, so the pass after the grace period sends it again."""
        if self._broker_down:
            return
        try:
            await self._sender.send(job)
        except Exception as exc:
            self._broker_down = True
            MESSAGE_BROKER.failed(exc)

    async def run_quietly(self) -> None:
        """A pass as the scheduler runs it: a database outage is reported once (the next pass
        tries again), anything else is logged by type and frame."""
        started = time.monotonic()
        try:
            await self.run_once(started)
        except DatabaseUnavailable as exc:
            DATABASE.failed(exc, attempt_started=started)
        except Exception as exc:
            log.error("relay_pass_failed", **exception_fields(exc))

    async def run_once(self, started: float | None = None) -> RelayReport:
        """One pass; ``started``: when it began (``time.monotonic()``), for the outage report."""
        batch = self._settings.relay_batch_size
        recovered = abandoned = resent = 0
        self._broker_down = False
        while True:
            stale = await self._store.recover_stale(self._settings.job_stale_after_seconds, batch)
            for job in stale:
                if job.status is JobStatus.RETRYING:
                    recovered += 1
                    await self._send(job)
                else:
                    abandoned += 1
            if len(stale) < batch:
                break
        while True:
            due = await self._store.due_for_send(self._settings.relay_grace_seconds, batch)
            for job in due:
                await self._send(job)
            resent += len(due)
            if len(due) < batch:
                break
        DATABASE.answered(attempt_started=started)
        if not self._broker_down:
            MESSAGE_BROKER.answered()
        report = RelayReport(recovered=recovered, abandoned=abandoned, resent=resent)
        if recovered or abandoned or resent:
            log.info("relay_pass", **msgspec.structs.asdict(report))
        return report
