"""The file pipeline's job kinds: each file kind's storing job, and unpinning what was deleted."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from domain.clock import Clock
from domain.files.ports import UnitOfWork
from domain.files.retention import unpin_expired
from domain.jobs.model import DailyAt, Handler, JobKind, Periodic
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import daily_job, submit_job
from domain.transactions import UnitOfWorkFactory

# IPFS faults are usually short (a node restarting): retry soon, then back off.
CONTENT_RETRIES = (0.0, 10.0, 60.0, 300.0, 900.0)


def store_job(kind_name: str, handler: Handler, payload: type[msgspec.Struct]) -> JobKind:
    """A file kind's ``<kind>.store`` job: its staged bytes to IPFS, then its row. Every kind's
    runs on the ``ipfs`` queue with the same schedule: IPFS is what fails."""
    return JobKind(
        name=f"{kind_name}.store",
        queue="ipfs",
        handler=handler,
        payload=payload,
        retry_delays=CONTENT_RETRIES,
        timeout_seconds=900.0,
    )


async def enqueue_unpin(
    uow_factory: UnitOfWorkFactory[UnitOfWork], sender: MessageSender, now: datetime
) -> Submission:
    """Today's unpinning job; a second call the same day finds the first (its key)."""
    payload = {"day": now.astimezone(UTC).date().isoformat()}
    return await submit_job(uow_factory, sender, daily_job(CONTENT_UNPIN, now, payload))


async def plan_unpin(
    *, uow_factory: UnitOfWorkFactory[UnitOfWork], sender: MessageSender, clock: Clock
) -> Submission:
    return await enqueue_unpin(uow_factory, sender, clock.now())


CONTENT_UNPIN = JobKind(
    name="content.unpin",
    queue="ipfs",
    handler=unpin_expired,
    retry_delays=(60.0, 600.0),
    periodic=Periodic(when=DailyAt(hour=0, minute=20), plan=plan_unpin),
)
