"""Keeping the audit trail's monthly partitions ahead of time, as a daily job.

The scheduler only enqueues (domain/audit/jobs.py): one ``audit.partitions``
job per UTC day, keyed by that day, so two schedulers, a restart or a retry
of the enqueue never make a second job. The job names the month to start
from, so a run that is retried tomorrow still does exactly what it was asked.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import msgspec

from domain.audit.ports import AuditPartitions, UnitOfWork
from domain.auditing import SYSTEM, AuditEntry
from domain.jobs.model import Job
from domain.transactions import UnitOfWorkFactory

MONTHS_AHEAD = 3  # this month and the next two: a missed week of upkeep costs nothing
MAX_MONTHS = 24


def month_start(day: date) -> date:
    return day.replace(day=1)


class PartitionRequest(msgspec.Struct, frozen=True, rename="camel"):
    """What one upkeep job prepares: ``months`` monthly partitions from ``first_month``."""

    first_month: date
    months: int

    def __post_init__(self) -> None:  # a payload nobody could have sent
        if self.first_month.day != 1 or not 1 <= self.months <= MAX_MONTHS:
            raise ValueError("bad audit partition request")


def partition_request(now: datetime) -> PartitionRequest:
    return PartitionRequest(
        first_month=month_start(now.astimezone(UTC).date()), months=MONTHS_AHEAD
    )


async def maintain_partitions(
    job: Job,
    payload: PartitionRequest,
    *,
    audit_partitions: AuditPartitions,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> dict[str, Any]:
    upkeep = await audit_partitions.ensure(payload.first_month, payload.months)
    if upkeep.created or upkeep.moved:
        async with uow_factory() as unit:
            await unit.audit.record(
                SYSTEM,
                AuditEntry(
                    action="audit.partitions",
                    resource_type="audit_events",
                    resource_id=",".join(upkeep.created) or None,
                ),
            )
    return {"created": upkeep.created, "moved": upkeep.moved}
