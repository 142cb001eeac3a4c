"""The anchoring feature's job kind: a run every few seconds while records wait.

One anchoring run at a time (they share the account's sequence number): the
stellar queue has a one-thread pool in the Procfile, and the run takes an
advisory lock besides.
"""

from __future__ import annotations

from typing import Any

from domain.anchoring.ports import AnchorLedger, UnitOfWork
from domain.anchoring.run import anchor_pending
from domain.clock import Clock
from domain.errors import PermanentFailure, TransientFailure
from domain.jobs.model import SYSTEM_OWNER, Every, Job, JobKind, NewJob, Periodic
from domain.jobs.ports import ExclusiveRuns, MessageSender, Submission
from domain.jobs.submit import enqueue_job, send_submitted
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory

ANCHOR_LOCK = "anchor.batch"


async def anchor_batch(
    job: Job,
    *,
    ledger: AnchorLedger | None,
    exclusive: ExclusiveRuns,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
) -> dict[str, Any]:
    if ledger is None:
        raise PermanentFailure(
            "no STELLAR_SECRET_KEY is configured: nothing can be anchored", code="no_ledger_key"
        )
    async with exclusive(ANCHOR_LOCK) as held:
        if not held:  # another run holds the account's sequence; try again shortly
            raise TransientFailure("another anchoring run is in progress", code="anchor_busy")
        report = await anchor_pending(
            uow_factory, ledger, clock, batch_max=settings.anchor_batch_max
        )
    return {
        "batchesSigned": report.batches_signed,
        "recordsBatched": report.records_batched,
        "batchesAnchored": report.batches_anchored,
        "waitingForHorizon": report.waiting_for_horizon,
    }


async def enqueue_anchoring(
    uow_factory: UnitOfWorkFactory[UnitOfWork], sender: MessageSender, *, include_signed: bool
) -> Submission | None:
    """An anchoring job when records (or signed batches) wait and none is under way: the
    scheduler ticks every few seconds, and an idle platform should not fill the jobs table."""
    async with uow_factory() as uow:
        if not await uow.anchors.run_needed(include_signed=include_signed):
            return None
        submission = await enqueue_job(
            uow, NewJob(kind=ANCHOR_BATCH, owner_id=SYSTEM_OWNER, payload={})
        )
    await send_submitted(sender, submission)
    return submission


async def plan_anchoring(
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    sender: MessageSender,
    ledger: AnchorLedger | None,
) -> Submission | None:
    if ledger is None:  # no key, nothing to anchor
        return None
    return await enqueue_anchoring(uow_factory, sender, include_signed=ledger.submits)


ANCHOR_BATCH = JobKind(
    name="anchor.batch",
    queue="stellar",
    handler=anchor_batch,
    retry_delays=(5.0, 15.0, 60.0, 300.0),
    periodic=Periodic(when=Every(setting="anchor_interval_seconds"), plan=plan_anchoring),
)
