"""Keeping the audit trail's monthly partitions ahead of time, as a daily job.

The scheduler only enqueues: one ``audit.partitions`` job per UTC day, keyed
by that day, so two schedulers, a restart or a retry of the enqueue never
make a second job. The job names the month to start from, so a run that is
retried tomorrow still does exactly what it was asked.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from domain.jobs import AUDIT_PARTITIONS, Job, NewJob
from domain.ports import MessageSender, Submission, UnitOfWorkFactory
from domain.submit import canonical_request, submit_job

SYSTEM_OWNER = "system"
MONTHS_AHEAD = 3  # this month and the next two: a missed week of upkeep costs nothing


def month_start(day: date) -> date:
    return day.replace(day=1)


def partition_job(now: datetime) -> NewJob:
    today = now.astimezone(UTC).date()
    payload = {"firstMonth": month_start(today).isoformat(), "months": MONTHS_AHEAD}
    return NewJob(
        kind=AUDIT_PARTITIONS,
        owner_id=SYSTEM_OWNER,
        payload=payload,
        idempotency_key=f"daily:{today.isoformat()}",
        request=canonical_request(payload),
    )


def requested_months(job: Job) -> tuple[date, int]:
    """The job's first month and count; raises ValueError on a payload nobody could have sent."""
    first = date.fromisoformat(str(job.payload["firstMonth"]))
    months = int(job.payload["months"])
    if first.day != 1 or not 1 <= months <= 24:
        raise ValueError("bad audit partition request")
    return first, months


async def enqueue_partition_upkeep(
    uow_factory: UnitOfWorkFactory, sender: MessageSender, now: datetime
) -> Submission:
    return await submit_job(uow_factory, sender, partition_job(now))
