"""The doses feature's job kinds, planned every DOSE_CHECK_INTERVAL_SECONDS when there is
work: ``dose.missed`` marks doses nobody answered within DOSE_GRACE_MINUTES as missed;
``dose.remind`` tells patients in the app that a dose is due (and by e-mail when their
preferences ask for ``dose.reminder`` e-mails). A planned job is keyed by its interval, so
two schedulers plan one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.clock import Clock
from domain.doses.model import Dose
from domain.doses.ports import UnitOfWork
from domain.jobs.model import SYSTEM_OWNER, Every, Job, JobKind, Periodic
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import plan_when_found, send_submitted
from domain.notifications.email import SendEmail, enqueue_email, sender_domain
from domain.notifications.inapp import NoticeKind
from domain.notifications.notices import announce, notify, wants_email
from domain.notifications.ports import AddressValidator, EmailRenderer, LiveChannel
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory

BATCH = 500


async def mark_missed_doses(
    job: Job, *, uow_factory: UnitOfWorkFactory[UnitOfWork], clock: Clock, settings: Settings
) -> dict[str, Any]:
    missed = 0
    while True:
        now = clock.now()
        before = now - timedelta(minutes=settings.dose_grace_minutes)
        async with uow_factory() as uow:
            count = await uow.doses.mark_missed(before, now, BATCH)
        missed += count
        if count < BATCH:
            return {"missed": missed}


def _due_label(dose: Dose, time_zone: str) -> str:
    return f"{dose.due_at.astimezone(ZoneInfo(time_zone)):%H:%M} ({time_zone})"


async def remind_doses(
    job: Job,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
    sender: MessageSender,
    renderer: EmailRenderer,
    addresses: AddressValidator,
    live: LiveChannel,
) -> dict[str, Any]:
    """One reminder per due dose, still scheduled and within its grace window."""
    reminded = emailed = 0
    while True:
        now = clock.now()
        notices, emails = [], []
        async with uow_factory() as uow:
            doses = await uow.doses.to_remind(now, BATCH)
            grace = timedelta(minutes=settings.dose_grace_minutes)
            for dose in doses:
                if dose.due_at < now - grace:  # too late to remind: it is about to be missed
                    continue
                notices.append(
                    await notify(
                        uow,
                        dose.patient_id,
                        NoticeKind.DOSE_REMINDER,
                        {"doseId": str(dose.id), "dueAt": dose.due_at.isoformat()},
                    )
                )
                if await wants_email(uow, dose.patient_id, NoticeKind.DOSE_REMINDER):
                    emails.append(await _email(uow, dose, settings, renderer, addresses))
            await uow.doses.reminded([dose.id for dose in doses], now)
        await send_submitted(sender, *emails)
        await announce(live, notices)
        reminded += len(notices)
        emailed += len([email for email in emails if email is not None])
        if len(doses) < BATCH:
            return {"reminded": reminded, "emailed": emailed}


async def _email(
    uow: UnitOfWork,
    dose: Dose,
    settings: Settings,
    renderer: EmailRenderer,
    addresses: AddressValidator,
) -> Submission | None:
    patient = await uow.patients.get(dose.patient_id)
    if patient is None:
        return None
    time_zone = await uow.time_zones.of(dose.patient_id)
    app = settings.public_app_url.rstrip("/")
    command = SendEmail(
        to=patient.email,
        template="dose_reminder",
        data={
            "name": patient.name,
            "dueAt": _due_label(dose, time_zone),
            "dosesUrl": f"{app}/doses",
        },
    )
    return await enqueue_email(
        uow,
        renderer,
        addresses,
        command,
        owner_id=SYSTEM_OWNER,
        message_id_domain=sender_domain(settings.smtp_from),
    )


async def plan_missed(
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    sender: MessageSender,
    clock: Clock,
    settings: Settings,
) -> Submission | None:
    now = clock.now()
    overdue = now - timedelta(minutes=settings.dose_grace_minutes)
    return await plan_when_found(
        lambda uow: uow.doses.any_scheduled(overdue),
        DOSE_MISSED,
        now,
        settings.dose_check_interval_seconds,
        uow_factory=uow_factory,
        sender=sender,
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
        lambda uow: uow.doses.any_scheduled(now, unreminded=True),
        DOSE_REMIND,
        now,
        settings.dose_check_interval_seconds,
        uow_factory=uow_factory,
        sender=sender,
    )


DOSE_MISSED = JobKind(
    name="dose.missed",
    queue="default",
    handler=mark_missed_doses,
    retry_delays=(30.0, 300.0),
    timeout_seconds=600.0,
    periodic=Periodic(when=Every(setting="dose_check_interval_seconds"), plan=plan_missed),
)

DOSE_REMIND = JobKind(
    name="dose.remind",
    queue="default",
    handler=remind_doses,
    retry_delays=(30.0, 300.0),
    timeout_seconds=600.0,
    periodic=Periodic(when=Every(setting="dose_check_interval_seconds"), plan=plan_reminders),
)
