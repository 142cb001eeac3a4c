"""The daily reconciliation: every payment completed yesterday (UTC), asked about again.

A completed payment Bakong no longer reports as paid, or reports with another
hash, amount or currency, is a mismatch: every admin is told (in-app), and the
job's result counts them. Nothing is changed: money questions are people's.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from domain.clock import Clock
from domain.notifications.inapp import Notice, NoticeKind
from domain.notifications.notices import announce, notify
from domain.notifications.ports import LiveChannel
from domain.payments.model import PaidTransaction, Payment
from domain.payments.polling import batches
from domain.payments.ports import PaymentNetwork, UnitOfWork
from domain.transactions import UnitOfWorkFactory

MISMATCH = "reconciliation_mismatch"


def matches(payment: Payment, paid: PaidTransaction | None) -> bool:
    return paid is not None and (paid.hash, paid.amount_minor, paid.currency) == (
        payment.transaction_hash,
        payment.amount_minor,
        payment.currency,
    )


def day_before(now: datetime) -> tuple[datetime, datetime]:
    today = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    return today - timedelta(days=1), today


async def reconcile_day(
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    live: LiveChannel,
    network: PaymentNetwork,
) -> dict[str, int]:
    start, end = day_before(clock.now())
    async with uow_factory() as uow:
        completed = await uow.payments.completed_between(start, end)
    mismatched: list[Payment] = []
    for batch in batches(completed):
        paid = await network.check_many([payment.md5 for payment in batch])
        mismatched += [p for p in batch if not matches(p, paid.get(p.md5))]
    told: list[Notice] = []
    if mismatched:
        async with uow_factory() as uow:
            for admin in await uow.payers.admin_ids():
                for payment in mismatched:
                    data = {"paymentId": str(payment.id), "reason": MISMATCH}
                    told.append(await notify(uow, admin, NoticeKind.PAYMENT_REVIEW, data))
    await announce(live, told)
    return {"checked": len(completed), "mismatched": len(mismatched)}
