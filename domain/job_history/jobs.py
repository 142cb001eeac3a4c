"""The job-history feature's job kind, and how the scheduler asks for it."""

from __future__ import annotations

from datetime import datetime

import msgspec

from domain.clock import Clock
from domain.job_history.retention import RetentionRequest, prune_job_history, retention_request
from domain.jobs.model import DailyAt, JobKind, NewJob, Periodic
from domain.jobs.ports import MessageSender, Submission, UnitOfWork
from domain.jobs.submit import daily_job, submit_job
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory


def retention_job(now: datetime, retention_days: int) -> NewJob:
    """The day's retention job, keyed by the day: two schedulers or a restart make one."""
    request = retention_request(now, retention_days)
    return daily_job(JOB_RETENTION, now, msgspec.to_builtins(request))


async def plan_job_retention(
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    sender: MessageSender,
    clock: Clock,
    settings: Settings,
) -> Submission:
    job = retention_job(clock.now(), settings.job_retention_days)
    return await submit_job(uow_factory, sender, job)


JOB_RETENTION = JobKind(
    name="jobs.retention",
    queue="default",
    handler=prune_job_history,
    payload=RetentionRequest,
    retry_delays=(60.0, 600.0, 3600.0),
    timeout_seconds=3600.0,
    periodic=Periodic(when=DailyAt(hour=0, minute=50), plan=plan_job_retention),
)
