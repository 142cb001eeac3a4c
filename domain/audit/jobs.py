"""The audit feature's job kinds, and how the scheduler asks for them."""

from __future__ import annotations

from datetime import datetime

import msgspec

from domain.audit.ports import UnitOfWork
from domain.audit.upkeep import PartitionRequest, maintain_partitions, partition_request
from domain.clock import Clock
from domain.jobs.model import DailyAt, JobKind, NewJob, Periodic
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import daily_job, submit_job
from domain.transactions import UnitOfWorkFactory


def partition_job(now: datetime) -> NewJob:
    return daily_job(AUDIT_PARTITIONS, now, msgspec.to_builtins(partition_request(now)))


async def enqueue_partition_upkeep(
    uow_factory: UnitOfWorkFactory[UnitOfWork], sender: MessageSender, now: datetime
) -> Submission:
    return await submit_job(uow_factory, sender, partition_job(now))


async def plan_partition_upkeep(
    *, uow_factory: UnitOfWorkFactory[UnitOfWork], sender: MessageSender, clock: Clock
) -> Submission:
    return await enqueue_partition_upkeep(uow_factory, sender, clock.now())


AUDIT_PARTITIONS = JobKind(
    name="audit.partitions",
    queue="default",
    handler=maintain_partitions,
    payload=PartitionRequest,
    retry_delays=(60.0, 600.0, 3600.0),
    timeout_seconds=600.0,
    periodic=Periodic(when=DailyAt(hour=0, minute=10), plan=plan_partition_upkeep),
)
