"""Booking's job kinds, planned every CONSULTATION_CHECK_INTERVAL_SECONDS when there is work:
``consultation.release`` frees the times of holds that ran out or whose payment failed
(compensation: the patient is told; a payment still arriving later re-books or is refunded)
and ``consultation.remind`` sends the 24-hour and 1-hour reminders of confirmed consultations.
"""

from __future__ import annotations

from typing import Any

from domain.auditing import SYSTEM, AuditEntry
from domain.clock import Clock
from domain.consultations.model import ConsultationStatus
from domain.consultations.ports import UnitOfWork
from domain.consultations.telling import News, tell_parties
from domain.jobs.model import Every, Job, JobKind, Periodic
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import enqueue_job, interval_job, send_submitted
from domain.notifications.notices import announce
from domain.notifications.ports import AddressValidator, EmailRenderer, LiveChannel
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory

BATCH = 200


async def release_holds(
    job: Job,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
    sender: MessageSender,
    live: LiveChannel,
    renderer: EmailRenderer,
    addresses: AddressValidator,
) -> dict[str, Any]:
    released = 0
    while True:
        news = News()
        now = clock.now()
        async with uow_factory() as uow:
            due = await uow.consultations.to_release(now, BATCH)
            for consultation_id in due:
                moved = await uow.consultations.move(
                    consultation_id, ConsultationStatus.HELD, ConsultationStatus.RELEASED, now
                )
                if moved is None:  # confirmed or cancelled meanwhile
                    continue
                released += 1
                await uow.audit.record(
                    SYSTEM,
                    AuditEntry(
                        action="consultation.release",
                        resource_type="consultation",
                        resource_id=str(moved.id),
                        changed_fields=("status",),
                    ),
                )
                await tell_parties(
                    uow,
                    news,
                    moved,
                    settings=settings,
                    renderer=renderer,
                    addresses=addresses,
                    patient_only=True,
                )
        await send_submitted(sender, *news.emails)
        await announce(live, news.notices)
        if len(due) < BATCH:
            return {"released": released}


async def plan_release(
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    sender: MessageSender,
    clock: Clock,
    settings: Settings,
) -> Submission | None:
    now = clock.now()
    async with uow_factory() as uow:
        if not await uow.consultations.to_release(now, 1):
            return None
        submission = await enqueue_job(
            uow,
            interval_job(CONSULTATION_RELEASE, now, settings.consultation_check_interval_seconds),
        )
    await send_submitted(sender, submission)
    return submission


CONSULTATION_RELEASE = JobKind(
    name="consultation.release",
    queue="default",
    handler=release_holds,
    retry_delays=(5.0, 30.0, 120.0),
    timeout_seconds=300.0,
    periodic=Periodic(when=Every(setting="consultation_check_interval_seconds"), plan=plan_release),
)
