"""Asking Bakong about pending payments: the other way a payment is confirmed.

Each run expires the payments whose code has lapsed, then asks about those
whose next check is due, up to 50 MD5s per call; a paid one goes through the
same ``record_paid`` as a callback, an unpaid one is asked about again later
(5 s, 10 s, 20 s ... at most a minute apart) until its code expires.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from domain.auditing import SYSTEM
from domain.clock import Clock
from domain.jobs.ports import MessageSender
from domain.notifications.ports import AddressValidator, EmailRenderer, LiveChannel
from domain.payments.confirm import record_paid
from domain.payments.create import payment_entry
from domain.payments.model import Payment, PaymentStatus, check_transition, next_check
from domain.payments.ports import CHECK_BATCH, PaymentNetwork, UnitOfWork
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory

RUN_LIMIT = 10_000  # payments asked about per run; the next run takes the rest


def batches(items: list[Payment], size: int = CHECK_BATCH) -> list[list[Payment]]:
    return [items[at : at + size] for at in range(0, len(items), size)]


async def expire_lapsed(
    uow_factory: UnitOfWorkFactory[UnitOfWork], now: datetime, limit: int = 1000
) -> int:
    async with uow_factory() as uow:
        lapsed = await uow.payments.lapsed(now, limit)
        for payment in lapsed:
            expired = msgspec.structs.replace(
                payment,
                status=check_transition(payment.status, "expire"),
                updated_at=now,
                next_check_at=None,
            )
            if await uow.payments.save(expired, PaymentStatus.PENDING):
                await uow.audit.record(SYSTEM, payment_entry("payment.expire", expired, "status"))
    return len(lapsed)


async def _later(
    uow_factory: UnitOfWorkFactory[UnitOfWork], unpaid: list[Payment], now: datetime
) -> None:
    async with uow_factory() as uow:
        for payment in unpaid:
            again = msgspec.structs.replace(
                payment,
                checks=payment.checks + 1,
                next_check_at=next_check(now, payment.checks + 1),
            )
            await uow.payments.save(again, PaymentStatus.PENDING)  # a completion meanwhile wins


async def poll_pending(
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    sender: MessageSender,
    live: LiveChannel,
    network: PaymentNetwork,
    renderer: EmailRenderer,
    addresses: AddressValidator,
    settings: Settings,
) -> dict[str, int]:
    now = clock.now()
    counts = {"expired": await expire_lapsed(uow_factory, now), "asked": 0, "calls": 0}
    async with uow_factory() as uow:
        due = await uow.payments.due_for_check(now, RUN_LIMIT)
    for batch in batches(due):
        paid = await network.check_many([payment.md5 for payment in batch])
        counts["calls"] += 1
        counts["asked"] += len(batch)
        for transaction in paid.values():
            outcome = await record_paid(
                transaction,
                "poll",
                uow_factory=uow_factory,
                clock=clock,
                sender=sender,
                live=live,
                renderer=renderer,
                addresses=addresses,
                settings=settings,
            )
            counts[outcome.value] = counts.get(outcome.value, 0) + 1
        await _later(uow_factory, [p for p in batch if p.md5 not in paid], now)
    return counts
