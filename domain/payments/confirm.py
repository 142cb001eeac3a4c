"""A paid transaction reported for a payment, by Bakong's callback or by our poller: one
outcome whichever path reports it first, and nothing more however often it is reported.

The payment row is locked for the whole decision, and its transaction hash is
unique, so concurrent reports (ten copies of a callback and the poller at
once) serialise: the first completes it, the rest find the hash recorded.
Completing enqueues the activation and the receipt e-mail in the same
transaction and tells the payer in the app; a transaction that does not
match (amount, currency, paid too late) fails the payment, flagged for
review, and tells every admin.
"""

from __future__ import annotations

import msgspec

from domain.auditing import SYSTEM, AuditEntry
from domain.clock import Clock
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import enqueue_job, send_submitted
from domain.notifications.inapp import Notice, NoticeKind
from domain.notifications.notices import announce, notify
from domain.notifications.ports import AddressValidator, EmailRenderer, LiveChannel
from domain.payments.activation import activation_job
from domain.payments.model import (
    Outcome,
    PaidTransaction,
    Payment,
    PaymentStatus,
    check_transition,
    judge,
)
from domain.payments.ports import UnitOfWork
from domain.payments.receipts import queue_receipt
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory


def _entry(action: str, payment: Payment, source: str) -> AuditEntry:
    return AuditEntry(
        action=action,
        resource_type="payment",
        resource_id=str(payment.id),
        changed_fields=("status", "transaction_hash", source),
    )


async def record_paid(
    paid: PaidTransaction,
    source: str,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    sender: MessageSender,
    live: LiveChannel,
    renderer: EmailRenderer,
    addresses: AddressValidator,
    settings: Settings,
) -> Outcome:
    """``source`` names the path ("callback", "poll") on the audit trail."""
    told: list[Notice] = []
    submissions: list[Submission | None] = []
    async with uow_factory() as uow:
        payment = await uow.payments.by_md5(paid.md5, lock=True)
        if payment is None:
            return Outcome.UNKNOWN
        if payment.transaction_hash is not None or payment.status not in (
            PaymentStatus.PENDING,
            PaymentStatus.EXPIRED,
        ):
            return Outcome.ALREADY
        now = clock.now()
        review = judge(payment, paid)
        transition = "complete" if review is None else "fail"
        settled = msgspec.structs.replace(
            payment,
            status=check_transition(payment.status, transition),
            transaction_hash=paid.hash,
            paid_minor=paid.amount_minor,
            paid_currency=paid.currency,
            review=review,
            completed_at=paid.paid_at if review is None else None,
            updated_at=now,
            next_check_at=None,
        )
        await uow.payments.save(settled, payment.status)  # locked above: the guard holds
        if review is None:
            submissions.append(await enqueue_job(uow, activation_job(settled)))
            submissions.append(
                await queue_receipt(
                    uow, settled, renderer=renderer, addresses=addresses, settings=settings
                )
            )
            told.append(
                await notify(
                    uow, settled.user_id, NoticeKind.PAYMENT_RECEIPT, {"paymentId": str(settled.id)}
                )
            )
        else:
            for admin in await uow.payers.admin_ids():
                told.append(
                    await notify(
                        uow,
                        admin,
                        NoticeKind.PAYMENT_REVIEW,
                        {"paymentId": str(settled.id), "reason": review.value},
                    )
                )
        # last: the audit chain's lock is held until the commit, so it is taken as late as can be
        action = "payment.complete" if review is None else "payment.flag"
        await uow.audit.record(SYSTEM, _entry(action, settled, source))
    await send_submitted(sender, *submissions)
    await announce(live, told)
    return Outcome.COMPLETED if review is None else Outcome.FLAGGED
