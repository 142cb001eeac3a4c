"""The payments feature's job kinds: activation (on demand, with each completion), polling
Bakong while payments are pending, and the daily reconciliation."""

from __future__ import annotations

from typing import Any

from domain.clock import Clock
from domain.errors import PermanentFailure
from domain.jobs.model import SYSTEM_OWNER, DailyAt, Every, Job, JobKind, NewJob, Periodic
from domain.jobs.ports import ExclusiveRuns, MessageSender, Submission
from domain.jobs.submit import enqueue_job, send_submitted
from domain.notifications.ports import AddressValidator, EmailRenderer, LiveChannel
from domain.payments.activation import PAYMENT_ACTIVATE as PAYMENT_ACTIVATE
from domain.payments.polling import poll_pending
from domain.payments.ports import PaymentNetwork, UnitOfWork
from domain.payments.reconcile import reconcile_day
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory

POLL_LOCK = "payment.poll"


def _network(network: PaymentNetwork | None) -> PaymentNetwork:
    if network is None:
        raise PermanentFailure(
            "no BAKONG_API_URL is configured: Bakong cannot be asked", code="no_bakong_api"
        )
    return network


async def poll_payments(
    job: Job,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    sender: MessageSender,
    live: LiveChannel,
    network: PaymentNetwork | None,
    exclusive: ExclusiveRuns,
    renderer: EmailRenderer,
    addresses: AddressValidator,
    settings: Settings,
) -> dict[str, Any]:
    async with exclusive(POLL_LOCK) as held:
        if not held:  # another run is asking already; the next tick comes soon
            return {"skipped": 1}
        return await poll_pending(
            uow_factory=uow_factory,
            clock=clock,
            sender=sender,
            live=live,
            network=_network(network),
            renderer=renderer,
            addresses=addresses,
            settings=settings,
        )


async def plan_polling(
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    sender: MessageSender,
    clock: Clock,
    network: PaymentNetwork | None,
) -> Submission | None:
    """A polling job when a pending payment is due a check or has lapsed; none on an idle
    platform (the scheduler ticks every few seconds)."""
    if network is None:
        return None
    now = clock.now()
    async with uow_factory() as uow:
        if not (await uow.payments.due_for_check(now, 1) or await uow.payments.lapsed(now, 1)):
            return None
        submission = await enqueue_job(
            uow, NewJob(kind=PAYMENT_POLL, owner_id=SYSTEM_OWNER, payload={})
        )
    await send_submitted(sender, submission)
    return submission


async def reconcile_payments(
    job: Job,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    live: LiveChannel,
    network: PaymentNetwork | None,
) -> dict[str, Any]:
    return await reconcile_day(
        uow_factory=uow_factory, clock=clock, live=live, network=_network(network)
    )


PAYMENT_POLL = JobKind(
    name="payment.poll",
    queue="default",
    handler=poll_payments,
    retry_delays=(5.0, 30.0),
    timeout_seconds=600.0,
    periodic=Periodic(when=Every(setting="payment_poll_interval_seconds"), plan=plan_polling),
)

PAYMENT_RECONCILE = JobKind(
    name="payment.reconcile",
    queue="default",
    handler=reconcile_payments,
    retry_delays=(60.0, 600.0, 3600.0),
    timeout_seconds=3600.0,
    periodic=Periodic(when=DailyAt(hour=1, minute=30)),
)
