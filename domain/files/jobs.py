"""The file pipeline's job kinds: unpinning what was deleted, once a day."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.clock import Clock
from domain.files.ports import UnitOfWork
from domain.files.retention import unpin_expired
from domain.jobs.model import DailyAt, JobKind, Periodic
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import daily_job, submit_job
from domain.transactions import UnitOfWorkFactory

# IPFS faults are usually short (a node restarting): retry soon, then back off.
CONTENT_RETRIES = (0.0, 10.0, 60.0, 300.0, 900.0)


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
