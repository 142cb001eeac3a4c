"""The audit feature's job kinds, and how the scheduler asks for them."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from domain.audit.ports import UnitOfWork
from domain.audit.upkeep import PartitionRequest, maintain_partitions, partition_request
from domain.clock import Clock
from domain.jobs.model import SYSTEM_OWNER, DailyAt, JobKind, NewJob, Periodic
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import canonical_request, submit_job
from domain.transactions import UnitOfWorkFactory


def partition_job(now: datetime) -> NewJob:
    request = msgspec.to_builtins(partition_request(now))
    return NewJob(
        kind=AUDIT_PARTITIONS,
        owner_id=SYSTEM_OWNER,
        payload=request,
        idempotency_key=f"daily:{now.astimezone(UTC).date().isoformat()}",
        request=canonical_request(request),
    )


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
