"""Confirming a held consultation once its payment completed (the payments' activation job
dispatches a consultation's payment here), and what a late payment does.

The activation job is keyed by the payment, and the move HELD -> CONFIRMED is a guarded
update, so a consultation is confirmed exactly once however often the job runs. A payment
that completes after its hold was released re-books the same time when it is still free
(RELEASED -> CONFIRMED, the exclusion constraint deciding); when it is not, the whole
payment is put up for refund (an admin sends the money back, as for every KHQR refund).
Either way the money is never lost, and the patient is told.
"""

from __future__ import annotations

import msgspec

from domain.auditing import SYSTEM, AuditEntry
from domain.clock import Clock
from domain.consultations.model import BLOCKING, Consultation, ConsultationStatus
from domain.consultations.ports import UnitOfWork
from domain.consultations.telling import News, tell_parties
from domain.jobs.ports import MessageSender
from domain.jobs.submit import send_submitted
from domain.notifications.notices import announce
from domain.notifications.ports import AddressValidator, EmailRenderer, LiveChannel
from domain.payments.model import Payment, PaymentStatus, refund_target
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory


def _entry(action: str, consultation: Consultation, *fields: str) -> AuditEntry:
    return AuditEntry(
        action=action,
        resource_type="consultation",
        resource_id=str(consultation.id),
        changed_fields=fields,
    )


async def confirmed_effects(
    uow: UnitOfWork,
    news: News,
    consultation: Consultation,
    *,
    settings: Settings,
    renderer: EmailRenderer,
    addresses: AddressValidator,
) -> None:
    """What every confirmation brings: both sides told. Reminders follow from the
    confirmed row itself (the reminder job finds them by time)."""
    await tell_parties(
        uow, news, consultation, settings=settings, renderer=renderer, addresses=addresses
    )


async def refund_whole(uow: UnitOfWork, payment: Payment, clock: Clock) -> Payment | None:
    """Put what is left of ``payment`` up for refund (an admin approves it once the money is
    back with the payer); None when nothing is left or it is already asked for."""
    if payment.status is not PaymentStatus.COMPLETED or payment.refundable_minor <= 0:
        return None
    return await refund_part(uow, payment, payment.refundable_minor, clock)


async def refund_part(
    uow: UnitOfWork, payment: Payment, amount_minor: int, clock: Clock
) -> Payment | None:
    if amount_minor <= 0 or payment.status is not PaymentStatus.COMPLETED:
        return None
    asked = msgspec.structs.replace(
        payment,
        status=refund_target(payment, amount_minor),
        refund_requested_minor=amount_minor,
        updated_at=clock.now(),
    )
    if not await uow.payments.save(asked, payment.status):
        return None
    await uow.audit.record(
        SYSTEM,
        AuditEntry(
            action="payment.request_refund",
            resource_type="payment",
            resource_id=str(payment.id),
            changed_fields=("status", "refund_requested"),
        ),
    )
    return asked


async def activate_consultation(
    payment: Payment,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
    sender: MessageSender,
    live: LiveChannel,
    renderer: EmailRenderer,
    addresses: AddressValidator,
) -> str:
    """``confirmed``, ``rebooked``, ``already`` (nothing to do), ``refund_requested``, or
    ``unbooked``: a consultation fee paid through ``POST /payments`` directly, not by a hold
    (the money is recorded; nothing is booked)."""
    news = News()
    async with uow_factory() as uow:
        consultation = await uow.consultations.by_payment(payment.id, lock=True)
        if consultation is None:
            return "unbooked"
        outcome = await _settle(
            uow,
            news,
            consultation,
            payment,
            clock=clock,
            settings=settings,
            renderer=renderer,
            addresses=addresses,
        )
    await send_submitted(sender, *news.emails)
    await announce(live, news.notices)
    return outcome


async def _settle(
    uow: UnitOfWork,
    news: News,
    consultation: Consultation,
    payment: Payment,
    *,
    clock: Clock,
    settings: Settings,
    renderer: EmailRenderer,
    addresses: AddressValidator,
) -> str:
    status = consultation.status
    if status in BLOCKING - {ConsultationStatus.HELD} or status in (
        ConsultationStatus.IN_PROGRESS,
        ConsultationStatus.COMPLETED,
        ConsultationStatus.NO_SHOW,
    ):
        return "already"
    now = clock.now()
    if status in (ConsultationStatus.HELD, ConsultationStatus.RELEASED):
        confirmed = await uow.consultations.move(
            consultation.id, status, ConsultationStatus.CONFIRMED, now
        )
        if confirmed is not None:
            action = (
                "consultation.confirm"
                if status is ConsultationStatus.HELD
                else "consultation.rebook"
            )
            await uow.audit.record(SYSTEM, _entry(action, confirmed, "status"))
            await confirmed_effects(
                uow, news, confirmed, settings=settings, renderer=renderer, addresses=addresses
            )
            return "confirmed" if status is ConsultationStatus.HELD else "rebooked"
    # released and taken meanwhile, or cancelled before the money came: give it back
    current = await uow.payments.get(payment.id, lock=True)
    if current is not None:
        await refund_whole(uow, current, clock)
    await uow.audit.record(SYSTEM, _entry("consultation.late_payment", consultation, "payment"))
    await tell_parties(
        uow,
        news,
        consultation,
        settings=settings,
        renderer=renderer,
        addresses=addresses,
        patient_only=True,
    )
    return "refund_requested"
