"""Holding a doctor's time: the quick part of booking, answered at once.

One transaction checks the time is one the doctor's calendar offers, opens the payment
(the doctor's fee, through the payments feature) and inserts the HELD consultation; the
exclusion constraint decides between concurrent holds, so exactly one wins and the rest
are 409 ``time_taken``. A zero fee needs no payment: the consultation is CONFIRMED at once.
The same Idempotency-Key with the same request returns the first consultation; with
another request, 409.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime, timedelta

import msgspec

from domain.auditing import AuditContext, AuditEntry
from domain.availability.model import offers
from domain.clock import Clock
from domain.consultations.confirmation import confirmed_effects
from domain.consultations.model import Consultation, ConsultationStatus, meeting_link, new_room
from domain.consultations.ports import UnitOfWork
from domain.consultations.telling import News
from domain.errors import Conflict, Forbidden, NotFound
from domain.jobs.ports import MessageSender
from domain.jobs.submit import send_submitted
from domain.notifications.notices import announce
from domain.notifications.ports import AddressValidator, EmailRenderer, LiveChannel
from domain.payments.create import open_payment
from domain.payments.model import Payment, Purpose
from domain.policies import Access
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory


class HoldRequest(msgspec.Struct, frozen=True, kw_only=True):
    doctor_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime


class Held(msgspec.Struct, frozen=True, kw_only=True):
    consultation: Consultation
    payment: Payment | None
    replayed: bool = False


def consultation_entry(action: str, consultation_id: uuid.UUID, *fields: str) -> AuditEntry:
    return AuditEntry(
        action=action,
        resource_type="consultation",
        resource_id=str(consultation_id),
        changed_fields=fields,
    )


def fingerprint(request: HoldRequest, settings: Settings) -> bytes:
    return hmac.new(
        settings.request_fingerprint_key, msgspec.json.encode(request), hashlib.sha256
    ).digest()


async def _replay(uow: UnitOfWork, patient_id: uuid.UUID, key: str, print_: bytes) -> Held | None:
    found = await uow.consultations.by_key(patient_id, key)
    if found is None:
        return None
    consultation, stored = found
    if not hmac.compare_digest(stored, print_):
        raise Conflict(
            "this Idempotency-Key was used for another request", code="idempotency_key_reused"
        )
    payment = await uow.payments.get(consultation.payment_id) if consultation.payment_id else None
    return Held(consultation=consultation, payment=payment, replayed=True)


async def hold_consultation(
    access: Access,
    audit: AuditContext,
    request: HoldRequest,
    idempotency_key: str | None,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
    sender: MessageSender,
    live: LiveChannel,
    renderer: EmailRenderer,
    addresses: AddressValidator,
) -> Held:
    access.authorize(())
    patient_id = access.user_uuid
    if patient_id is None:
        raise Forbidden("this action needs an active patient account")
    print_ = fingerprint(request, settings)
    news = News()
    try:
        async with uow_factory() as uow:
            held = await _hold(
                uow,
                audit,
                patient_id,
                request,
                idempotency_key,
                print_,
                news,
                clock=clock,
                settings=settings,
                renderer=renderer,
                addresses=addresses,
            )
    except Conflict as conflict:
        if idempotency_key is None or conflict.code not in ("time_taken", "idempotency_key_race"):
            raise
        async with uow_factory() as uow:  # the same key's first request may have won
            replayed = await _replay(uow, patient_id, idempotency_key, print_)
        if replayed is None:
            raise
        return replayed
    await send_submitted(sender, *news.emails)
    await announce(live, news.notices)
    return held


async def _hold(
    uow: UnitOfWork,
    audit: AuditContext,
    patient_id: uuid.UUID,
    request: HoldRequest,
    idempotency_key: str | None,
    print_: bytes,
    news: News,
    *,
    clock: Clock,
    settings: Settings,
    renderer: EmailRenderer,
    addresses: AddressValidator,
) -> Held:
    if idempotency_key is not None:
        replayed = await _replay(uow, patient_id, idempotency_key, print_)
        if replayed is not None:
            return replayed
    if not await uow.patients.exists(patient_id):
        raise Forbidden("this action needs an active patient account")
    now = clock.now()
    if request.starts_at <= now:
        raise Conflict("this time has passed", code="time_passed")
    calendar = await uow.calendars.get(request.doctor_id)
    fee = await uow.payers.consultation_fee(request.doctor_id)
    if calendar is None or fee is None:
        raise NotFound("doctor not found")
    offered = offers(calendar, request.starts_at, request.ends_at)
    if offered is None:
        raise Conflict("this is not a time the doctor's calendar offers", code="not_offered")
    consultation_id = uuid.uuid4()
    amount, currency = fee
    payment = None
    if amount > 0:
        payment = await open_payment(
            uow,
            audit,
            patient_id,
            Purpose.CONSULTATION,
            str(consultation_id),
            currency,
            amount,
            clock=clock,
            settings=settings,
        )
    consultation = Consultation(
        id=consultation_id,
        patient_id=patient_id,
        doctor_id=request.doctor_id,
        starts_at=offered.starts_at,
        ends_at=offered.ends_at,
        blocked_until=offered.blocked_until,
        status=ConsultationStatus.HELD if payment else ConsultationStatus.CONFIRMED,
        room=meeting_link(settings.meeting_base_url, new_room()),
        created_at=now,
        updated_at=now,
        hold_expires_at=now + timedelta(seconds=settings.hold_ttl_seconds) if payment else None,
        payment_id=payment.id if payment else None,
    )
    await uow.consultations.add(consultation, idempotency_key, print_)
    await uow.audit.record(
        audit,
        consultation_entry("consultation.hold", consultation.id, "status", "doctor_id", "time"),
    )
    if payment is None:  # nothing to pay: confirmed at once (inserted so: no second write
        # to the row, which would wait on a concurrent hold of the same time)
        await uow.audit.record(
            audit, consultation_entry("consultation.confirm", consultation.id, "status")
        )
        await confirmed_effects(
            uow, news, consultation, settings=settings, renderer=renderer, addresses=addresses
        )
    return Held(consultation=consultation, payment=payment)
