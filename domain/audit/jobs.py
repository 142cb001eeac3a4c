"""The audit feature's job kinds, and how the scheduler asks for them."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from domain.audit.chaining import link_pending_events
from domain.audit.ports import AuditStore, UnitOfWork
from domain.audit.upkeep import PartitionRequest, maintain_partitions, partition_request
from domain.clock import Clock
from domain.jobs.model import DailyAt, Every, JobKind, NewJob, Periodic
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import daily_job, interval_job, submit_job
from domain.settings import Settings
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


async def plan_chaining(
    *,
    audit_store: AuditStore,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    sender: MessageSender,
    clock: Clock,
    settings: Settings,
) -> Submission | None:
    """A sweep when an event has been pending longer than an interval (most looks find
    none: audited writes link their own right after their commit)."""
    now = clock.now()
    interval = settings.audit_chain_interval_seconds
    oldest = await audit_store.oldest_pending()
    if oldest is None or oldest > now - timedelta(seconds=interval):
        return None
    return await submit_job(uow_factory, sender, interval_job(AUDIT_CHAIN_PENDING, now, interval))


AUDIT_CHAIN_PENDING = JobKind(
    name="audit.chain_pending",
    queue="default",
    handler=link_pending_events,
    retry_delays=(5.0, 30.0, 120.0),
    timeout_seconds=300.0,
    periodic=Periodic(when=Every(setting="audit_chain_interval_seconds"), plan=plan_chaining),
)
