"""The receipt e-mail of a completed payment, queued in the completion's own transaction."""

from __future__ import annotations

from domain.jobs.ports import Submission
from domain.notifications.email import SendEmail, enqueue_email, sender_domain
from domain.notifications.ports import AddressValidator, EmailRenderer
from domain.payments.khqr import bill_number
from domain.payments.model import Payment
from domain.payments.money import amount_text
from domain.payments.ports import UnitOfWork
from domain.settings import Settings


def receipt_fields(payment: Payment, name: str) -> dict[str, object]:
    paid_at = payment.completed_at or payment.updated_at
    return {
        "name": name,
        "receiptNumber": bill_number(payment.id),
        "amount": f"{payment.currency.value} {amount_text(payment.amount_minor, payment.currency)}",
        "paidAt": paid_at.strftime("%Y-%m-%d %H:%M UTC"),
    }


async def queue_receipt(
    uow: UnitOfWork,
    payment: Payment,
    *,
    renderer: EmailRenderer,
    addresses: AddressValidator,
    settings: Settings,
) -> Submission | None:
    """None when the payer has no account any more to write to."""
    contact = await uow.payers.contact(payment.user_id)
    if contact is None:
        return None
    name, address = contact
    return await enqueue_email(
        uow,  # type: ignore[arg-type]  # it has the e-mails, jobs and audit the e-mail needs
        renderer,
        addresses,
        SendEmail(to=address, template="payment_receipt", data=receipt_fields(payment, name)),
        owner_id=str(payment.user_id),
        message_id_domain=sender_domain(settings.smtp_from),
        idempotency_key=f"receipt:{payment.id}",
    )
