"""The adherence feature's job kind: a roll-up whenever doses changed and none is under way."""

from __future__ import annotations

from domain.adherence.ports import UnitOfWork
from domain.adherence.rollup import roll_up_adherence
from domain.jobs.model import SYSTEM_OWNER, Every, JobKind, NewJob, Periodic
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import enqueue_job, send_submitted
from domain.transactions import UnitOfWorkFactory


async def plan_rollup(
    *, uow_factory: UnitOfWorkFactory[UnitOfWork], sender: MessageSender
) -> Submission | None:
    """A roll-up job when changed days wait and no roll-up is queued or running: an idle
    platform adds no job rows."""
    async with uow_factory() as uow:
        if not await uow.adherence.rollup_needed():
            return None
        submission = await enqueue_job(
            uow, NewJob(kind=ADHERENCE_ROLLUP, owner_id=SYSTEM_OWNER, payload={})
        )
    await send_submitted(sender, submission)
    return submission


ADHERENCE_ROLLUP = JobKind(
    name="adherence.rollup",
    queue="default",
    handler=roll_up_adherence,
    retry_delays=(5.0, 30.0, 120.0),
    timeout_seconds=1800.0,
    periodic=Periodic(when=Every(setting="adherence_interval_seconds"), plan=plan_rollup),
)
