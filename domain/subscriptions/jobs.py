"""The subscriptions' daily upkeep: renewal reminders (in-app and e-mail) before a period ends,
then grace, then expiry (or the end of a subscription cancelled at period end)."""

from __future__ import annotations

from typing import Any

import msgspec

from domain.auditing import SYSTEM, AuditEntry
from domain.clock import Clock
from domain.jobs.model import DailyAt, Job, JobKind, Periodic
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import send_submitted
from domain.notifications.email import SendEmail, enqueue_email, sender_domain
from domain.notifications.inapp import Notice, NoticeKind
from domain.notifications.notices import announce, notify
from domain.notifications.ports import AddressValidator, EmailRenderer, LiveChannel
from domain.settings import Settings
from domain.subscriptions.model import Subscription, due_reminder, status_at
from domain.subscriptions.ports import UnitOfWork
from domain.transactions import UnitOfWorkFactory

BATCH = 500


async def _remind(
    uow: UnitOfWork,
    subscription: Subscription,
    *,
    renderer: EmailRenderer,
    addresses: AddressValidator,
    settings: Settings,
) -> tuple[Notice, Submission | None]:
    plan = await uow.plans.get(subscription.next_plan_code or subscription.plan_code)
    ends = subscription.period_end.strftime("%Y-%m-%d")
    notice = await notify(
        uow,
        subscription.user_id,
        NoticeKind.SUBSCRIPTION_RENEWAL,
        {
            "subscriptionId": str(subscription.id),
            "planId": plan.code if plan else "",
            "endsOn": ends,
        },
    )
    contact = await uow.payers.contact(subscription.user_id)
    if contact is None or plan is None:
        return notice, None
    name, address = contact
    mail = SendEmail(
        to=address,
        template="subscription_renewal",
        data={"name": name, "planName": plan.name, "endsOn": ends},
    )
    submission = await enqueue_email(
        uow,  # type: ignore[arg-type]  # it has the e-mails, jobs and audit an e-mail needs
        renderer,
        addresses,
        mail,
        owner_id=str(subscription.user_id),
        message_id_domain=sender_domain(settings.smtp_from),
        idempotency_key=f"renewal:{subscription.id}:{ends}",
    )
    return notice, submission


async def subscription_upkeep(
    job: Job,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    sender: MessageSender,
    live: LiveChannel,
    renderer: EmailRenderer,
    addresses: AddressValidator,
    settings: Settings,
) -> dict[str, Any]:
    now = clock.now()
    counts = {"reminded": 0, "moved": 0}
    told: list[Notice] = []
    mails: list[Submission | None] = []
    async with uow_factory() as uow:
        for subscription in await uow.subscriptions.needing_upkeep(now, BATCH):
            changed = subscription
            if due_reminder(subscription, now):
                notice, mail = await _remind(
                    uow, subscription, renderer=renderer, addresses=addresses, settings=settings
                )
                told.append(notice)
                mails.append(mail)
                changed = msgspec.structs.replace(changed, reminded_for=subscription.period_end)
                counts["reminded"] += 1
            status = status_at(subscription, now)
            if status is not subscription.status:
                changed = msgspec.structs.replace(changed, status=status)
                await uow.audit.record(
                    SYSTEM,
                    AuditEntry(
                        action=f"subscription.{status.value}",
                        resource_type="subscription",
                        resource_id=str(subscription.id),
                        changed_fields=("status",),
                    ),
                )
                counts["moved"] += 1
            if changed is not subscription:
                await uow.subscriptions.save(msgspec.structs.replace(changed, updated_at=now))
    await send_submitted(sender, *mails)
    await announce(live, told)
    return counts


SUBSCRIPTION_UPKEEP = JobKind(
    name="subscription.upkeep",
    queue="default",
    handler=subscription_upkeep,
    retry_delays=(60.0, 600.0, 3600.0),
    timeout_seconds=3600.0,
    periodic=Periodic(when=DailyAt(hour=2, minute=0)),
)
