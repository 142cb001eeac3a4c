"""Booking's job kinds, planned every CONSULTATION_CHECK_INTERVAL_SECONDS when there is work:
``consultation.release`` frees the times of holds that ran out or whose payment failed
(compensation: the patient is told; a payment still arriving later re-books or is refunded)
and ``consultation.remind`` sends the 24-hour and 1-hour reminders of confirmed consultations.
``consultation.archive``, daily, moves long-finished consultations to the history
(``domain.consultations.history``).
"""

from __future__ import annotations

from typing import Any

from domain.auditing import SYSTEM, AuditEntry
from domain.clock import Clock
from domain.consultations.history import archive_finished
from domain.consultations.model import Consultation, ConsultationStatus
from domain.consultations.ports import UnitOfWork
from domain.consultations.telling import News, appointment_url, starts_label, tell_parties
from domain.jobs.model import SYSTEM_OWNER, DailyAt, Every, Job, JobKind, Periodic
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import plan_when_found, send_submitted
from domain.notifications.email import SendEmail, enqueue_email, sender_domain
from domain.notifications.inapp import NoticeKind, NoticeValue
from domain.notifications.notices import announce, notify
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
    return await plan_when_found(
        lambda uow: uow.consultations.to_release(now, 1),
        CONSULTATION_RELEASE,
        now,
        settings.consultation_check_interval_seconds,
        uow_factory=uow_factory,
        sender=sender,
    )


REMINDER_LEADS = {1: "24 hours", 2: "1 hour"}


async def send_reminders(
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
    """The 24-hour and 1-hour reminders of confirmed consultations: an in-app notice to both
    sides and the ``appointment_reminder`` e-mail to the patient. A consultation that is
    cancelled is no longer due one; a rescheduled one is due its reminders anew."""
    reminded = 0
    while True:
        news = News()
        async with uow_factory() as uow:
            due = await uow.consultations.to_remind(clock.now(), BATCH)
            for consultation, reminder in due:
                if not await uow.consultations.reminded(
                    consultation.id, reminder, consultation.starts_at
                ):
                    continue
                reminded += 1
                await remind(uow, news, consultation, reminder, settings, renderer, addresses)
        await send_submitted(sender, *news.emails)
        await announce(live, news.notices)
        if len(due) < BATCH:
            return {"reminded": reminded}


async def remind(
    uow: UnitOfWork,
    news: News,
    consultation: Consultation,
    reminder: int,
    settings: Settings,
    renderer: EmailRenderer,
    addresses: AddressValidator,
) -> None:
    data: dict[str, NoticeValue] = {
        "consultationId": str(consultation.id),
        "startsAt": consultation.starts_at.isoformat(),
        "lead": REMINDER_LEADS[reminder],
    }
    for user_id in consultation.parties:
        news.notices.append(await notify(uow, user_id, NoticeKind.CONSULTATION_REMINDER, data))
    patient = await uow.payers.contact(consultation.patient_id)
    doctor = await uow.payers.contact(consultation.doctor_id)
    if patient is None or doctor is None:
        return
    command = SendEmail(
        to=patient[1],
        template="appointment_reminder",
        data={
            "name": patient[0],
            "doctorName": doctor[0],
            "startsAt": starts_label(consultation),
            "appointmentUrl": appointment_url(settings, consultation),
        },
    )
    news.emails.append(
        await enqueue_email(
            uow,  # type: ignore[arg-type]  # it has the e-mails, jobs and audit it needs
            renderer,
            addresses,
            command,
            owner_id=SYSTEM_OWNER,
            message_id_domain=sender_domain(settings.smtp_from),
            idempotency_key=(
                f"reminder:{consultation.id}:{reminder}:{consultation.starts_at.timestamp()}"
            ),
        )
    )


async def plan_reminders(
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    sender: MessageSender,
    clock: Clock,
    settings: Settings,
) -> Submission | None:
    now = clock.now()
    return await plan_when_found(
        lambda uow: uow.consultations.to_remind(now, 1),
        CONSULTATION_REMIND,
        now,
        settings.consultation_check_interval_seconds,
        uow_factory=uow_factory,
        sender=sender,
    )


CONSULTATION_REMIND = JobKind(
    name="consultation.remind",
    queue="default",
    handler=send_reminders,
    retry_delays=(30.0, 300.0),
    timeout_seconds=600.0,
    periodic=Periodic(
        when=Every(setting="consultation_check_interval_seconds"), plan=plan_reminders
    ),
)

CONSULTATION_RELEASE = JobKind(
    name="consultation.release",
    queue="default",
    handler=release_holds,
    retry_delays=(5.0, 30.0, 120.0),
    timeout_seconds=300.0,
    periodic=Periodic(when=Every(setting="consultation_check_interval_seconds"), plan=plan_release),
)

CONSULTATION_ARCHIVE = JobKind(
    name="consultation.archive",
    queue="default",
    handler=archive_finished,
    retry_delays=(60.0, 600.0, 3600.0),
    timeout_seconds=3600.0,
    periodic=Periodic(when=DailyAt(hour=2, minute=30)),
)
