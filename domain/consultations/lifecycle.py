"""What the two sides do with a consultation: the doctor starts, completes or marks a no-show;
either side cancels (refunds by the cancellation policy); the patient reschedules.

Each is one transaction: the caller must be a party (others get a 404), the state machine
must allow the move (409 otherwise), the guarded update must find the row unchanged, and
the audit event, notices and e-mails commit with it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from domain.auditing import AuditContext
from domain.availability.model import offers
from domain.clock import Clock
from domain.consultations.confirmation import refund_part
from domain.consultations.hold import consultation_entry
from domain.consultations.model import (
    Consultation,
    ConsultationStatus,
    Side,
    check_transition,
    refund_share,
)
from domain.consultations.ports import UnitOfWork
from domain.consultations.reading import as_party
from domain.consultations.telling import News, tell_parties
from domain.errors import Conflict, InvalidTransition
from domain.jobs.ports import MessageSender
from domain.jobs.submit import send_submitted
from domain.notifications.notices import announce
from domain.notifications.ports import AddressValidator, EmailRenderer, LiveChannel
from domain.payments.model import PaymentStatus
from domain.policies import Access
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory

# The doctor's moves and when they may be taken, relative to the consultation's time.
EARLY_START = timedelta(minutes=15)


class Outside:
    """What every command needs to tell the sides after its commit."""

    def __init__(
        self,
        sender: MessageSender,
        live: LiveChannel,
        renderer: EmailRenderer,
        addresses: AddressValidator,
        settings: Settings,
    ) -> None:
        self.sender, self.live = sender, live
        self.renderer, self.addresses, self.settings = renderer, addresses, settings

    async def tell(self, uow: UnitOfWork, news: News, consultation: Consultation) -> None:
        await tell_parties(
            uow,
            news,
            consultation,
            settings=self.settings,
            renderer=self.renderer,
            addresses=self.addresses,
        )

    async def flush(self, news: News) -> None:
        await send_submitted(self.sender, *news.emails)
        await announce(self.live, news.notices)


def _side(access: Access, consultation: Consultation) -> Side:
    side = consultation.side_of(access.user_uuid)
    if side is None:  # an admin reading: admins do not act on consultations
        raise InvalidTransition("only the patient or the doctor acts on a consultation")
    return side


def _check_timing(transition: str, consultation: Consultation, now: datetime) -> None:
    if transition == "start" and now < consultation.starts_at - EARLY_START:
        raise InvalidTransition("a consultation starts at most 15 minutes early")
    if transition == "no_show" and now < consultation.starts_at:
        raise InvalidTransition("a no-show is marked once the consultation's time has come")


async def _moved(
    uow: UnitOfWork, consultation: Consultation, target: ConsultationStatus, now: datetime
) -> Consultation:
    moved = await uow.consultations.move(consultation.id, consultation.status, target, now)
    if moved is None:
        raise Conflict("the consultation changed meanwhile; try again")
    return moved


async def _refund(
    uow: UnitOfWork,
    consultation: Consultation,
    by: Side,
    now: datetime,
    settings: Settings,
    clock: Clock,
) -> int:
    """The refund the cancellation policy gives back of a paid fee (asked for, for an admin
    to approve once the money is back); 0 when nothing was paid."""
    if consultation.payment_id is None:
        return 0
    payment = await uow.payments.get(consultation.payment_id, lock=True)
    if payment is None or payment.status is not PaymentStatus.COMPLETED:
        return 0  # unpaid yet: a payment arriving later finds the cancellation and is refunded
    share = refund_share(
        payment.refundable_minor,
        by,
        consultation.starts_at,
        now,
        timedelta(hours=settings.cancel_cutoff_hours),
        settings.late_cancel_refund_percent,
    )
    asked = await refund_part(uow, payment, share, clock)
    return share if asked else 0


async def act_on_consultation(
    access: Access,
    audit: AuditContext,
    consultation_id: uuid.UUID,
    transition: str,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
    sender: MessageSender,
    live: LiveChannel,
    renderer: EmailRenderer,
    addresses: AddressValidator,
) -> Consultation:
    """``start``, ``complete``, ``no_show`` (the doctor) or ``cancel`` (either side)."""
    outside = Outside(sender, live, renderer, addresses, settings)
    news = News()
    async with uow_factory() as uow:
        consultation = as_party(access, await uow.consultations.get(consultation_id, lock=True))
        now = clock.now()
        by = _side(access, consultation)
        target = check_transition(consultation.status, transition, by)
        _check_timing(transition, consultation, now)
        moved = await _moved(uow, consultation, target, now)
        await uow.audit.record(
            audit, consultation_entry(f"consultation.{transition}", moved.id, "status")
        )
        if transition == "cancel":
            await _refund(uow, consultation, by, now, settings, clock)
        await outside.tell(uow, news, moved)
    await outside.flush(news)
    return moved


async def reschedule_consultation(
    access: Access,
    audit: AuditContext,
    consultation_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
    sender: MessageSender,
    live: LiveChannel,
    renderer: EmailRenderer,
    addresses: AddressValidator,
) -> Consultation:
    """The patient moves a held or confirmed consultation to another free time of the same
    doctor: one UPDATE takes the new time and frees the old (the exclusion constraint checks
    the new one against every other booking), so there is never a moment with both or none.
    Its payment stays with it; its reminders follow the new time."""
    outside = Outside(sender, live, renderer, addresses, settings)
    news = News()
    async with uow_factory() as uow:
        consultation = as_party(access, await uow.consultations.get(consultation_id, lock=True))
        if _side(access, consultation) is not Side.PATIENT:
            raise InvalidTransition("only the patient reschedules a consultation")
        if consultation.status not in (ConsultationStatus.HELD, ConsultationStatus.CONFIRMED):
            raise InvalidTransition(
                f"cannot reschedule a consultation that is {consultation.status}"
            )
        now = clock.now()
        if starts_at <= now:
            raise Conflict("this time has passed", code="time_passed")
        calendar = await uow.calendars.get(consultation.doctor_id)
        offered = offers(calendar, starts_at, ends_at) if calendar else None
        if offered is None:
            raise Conflict("this is not a time the doctor's calendar offers", code="not_offered")
        moved = await uow.consultations.reschedule(
            consultation, offered.starts_at, offered.ends_at, offered.blocked_until, now
        )
        if moved is None:
            raise Conflict("the consultation changed meanwhile; try again")
        await uow.audit.record(
            audit, consultation_entry("consultation.reschedule", moved.id, "starts_at", "ends_at")
        )
        await outside.tell(uow, news, moved)
    await outside.flush(news)
    return moved
