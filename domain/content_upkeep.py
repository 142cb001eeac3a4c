"""What the scheduler enqueues for records and documents: anchoring runs and unpinning.

An anchoring job is enqueued only when there is work and no anchoring job
is already queued, running or retrying: the scheduler ticks every few
seconds, and an idle platform should not fill the jobs table with no-ops.
Unpinning runs once a day (keyed by the day, like the audit upkeep).
"""

from __future__ import annotations

from datetime import UTC, datetime

from domain.audit_upkeep import SYSTEM_OWNER
from domain.jobs import ANCHOR_BATCH, CONTENT_UNPIN, NewJob
from domain.ports import MessageSender, Submission, UnitOfWorkFactory
from domain.submit import canonical_request, enqueue_job, send_submitted, submit_job


async def enqueue_anchoring(
    uow_factory: UnitOfWorkFactory, sender: MessageSender, *, include_signed: bool
) -> Submission | None:
    async with uow_factory() as uow:
        if not await uow.anchors.run_needed(include_signed=include_signed):
            return None
        submission = await enqueue_job(
            uow, NewJob(kind=ANCHOR_BATCH, owner_id=SYSTEM_OWNER, payload={})
        )
    await send_submitted(sender, submission)
    return submission


async def enqueue_unpin(
    uow_factory: UnitOfWorkFactory, sender: MessageSender, now: datetime
) -> Submission:
    today = now.astimezone(UTC).date().isoformat()
    payload = {"day": today}
    return await submit_job(
        uow_factory,
        sender,
        NewJob(
            kind=CONTENT_UNPIN,
            owner_id=SYSTEM_OWNER,
            payload=payload,
            idempotency_key=f"daily:{today}",
            request=canonical_request(payload),
        ),
    )
