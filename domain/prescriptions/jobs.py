"""The prescriptions feature's job kinds: expiring what has ended and keeping active
prescriptions' doses made DOSE_HORIZON_DAYS ahead (both daily, keyed by the UTC day), and
batch prescribing (on demand)."""

from __future__ import annotations

from typing import Any

from domain.clock import Clock
from domain.jobs.model import DailyAt, Job, JobKind, Periodic
from domain.notifications.ports import LiveChannel
from domain.prescriptions.batch_run import BatchPayload, prescribe_batch
from domain.prescriptions.lifecycle import expire_ended
from domain.prescriptions.ports import UnitOfWork
from domain.prescriptions.scheduling import schedule_doses
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory

EXTEND_BATCH = 200


async def expire_prescriptions(
    job: Job, *, uow_factory: UnitOfWorkFactory[UnitOfWork], clock: Clock, live: LiveChannel
) -> dict[str, Any]:
    return {"expired": await expire_ended(uow_factory=uow_factory, clock=clock, live=live)}


async def extend_doses(
    job: Job, *, uow_factory: UnitOfWorkFactory[UnitOfWork], clock: Clock, settings: Settings
) -> dict[str, Any]:
    """Every active prescription's doses made up to the horizon, a batch per transaction."""
    made = prescriptions = 0
    after = None
    while True:
        async with uow_factory() as uow:
            batch = await uow.prescriptions.needing_doses(
                clock.now(), settings.dose_horizon_days, EXTEND_BATCH, after
            )
            for prescription in batch:
                made += await schedule_doses(
                    uow, prescription, clock.now(), settings.dose_horizon_days
                )
        prescriptions += len(batch)
        after = batch[-1].id if batch else None
        if len(batch) < EXTEND_BATCH:
            return {"prescriptions": prescriptions, "dosesMade": made}


PRESCRIPTION_EXPIRE = JobKind(
    name="prescription.expire",
    queue="default",
    handler=expire_prescriptions,
    retry_delays=(60.0, 600.0, 3600.0),
    timeout_seconds=1800.0,
    periodic=Periodic(when=DailyAt(hour=0, minute=30)),
)

DOSE_EXTEND = JobKind(
    name="dose.extend",
    queue="default",
    handler=extend_doses,
    retry_delays=(60.0, 600.0, 3600.0),
    timeout_seconds=1800.0,
    periodic=Periodic(when=DailyAt(hour=0, minute=40)),
)

# One patient after another; a retry carries on where the last attempt stopped.
PRESCRIPTION_BATCH = JobKind(
    name="prescription.batch",
    queue="default",
    handler=prescribe_batch,
    payload=BatchPayload,
    retry_delays=(10.0, 60.0, 600.0),
    timeout_seconds=1800.0,
)
