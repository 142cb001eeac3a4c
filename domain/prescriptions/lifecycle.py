"""A prescription's moves: its writer (the prescribing doctor, or the patient for their own
record of a paper prescription) activates, completes or cancels it; a daily job expires what
has ended.

Activation makes the doses (``scheduling``), e-mails the patient (``prescription_shared``,
only when a doctor shared it: a patient activating their own record is not e-mailed about
it) and tells them in the app; completion and cancellation cancel the doses still to come and
tell the patient too. Every move is in the prescription's history and on the audit trail.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from domain.auditing import SYSTEM, AuditContext
from domain.clock import Clock
from domain.doses.model import local_today
from domain.errors import Conflict, InvalidTransition, NotFound
from domain.jobs.model import SYSTEM_OWNER
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import send_submitted
from domain.notifications.email import SendEmail, enqueue_email, sender_domain
from domain.notifications.inapp import Notice, NoticeKind
from domain.notifications.notices import announce, notify
from domain.notifications.ports import AddressValidator, EmailRenderer, LiveChannel
from domain.policies import Access
from domain.prescriptions.access import as_prescriber, record_change
from domain.prescriptions.model import Prescription, PrescriptionStatus, check_transition
from domain.prescriptions.ports import UnitOfWork
from domain.prescriptions.scheduling import schedule_doses
from domain.prescriptions.writing import Prescribed, interaction_warnings
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory

EXPIRY_BATCH = 500


async def _moved(
    uow: UnitOfWork, prescription: Prescription, target: PrescriptionStatus, now: datetime
) -> Prescription:
    moved = await uow.prescriptions.move(prescription.id, prescription.status, target, now)
    if moved is None:  # the row was locked when read: only a bug gets here
        raise Conflict("the prescription changed meanwhile; try again")
    return moved


async def _tell_patient(uow: UnitOfWork, prescription: Prescription) -> Notice:
    return await notify(
        uow,
        prescription.patient_id,
        NoticeKind.PRESCRIPTION_UPDATED,
        {"prescriptionId": str(prescription.id), "status": prescription.status.value},
    )


async def _share_by_email(
    uow: UnitOfWork,
    prescription: Prescription,
    settings: Settings,
    renderer: EmailRenderer,
    addresses: AddressValidator,
) -> Submission | None:
    if prescription.doctor_id is None:  # the patient's own record: nobody shared it with them
        return None
    patient = await uow.patients.get(prescription.patient_id)
    doctor = await uow.users.get(prescription.doctor_id)
    if patient is None or doctor is None:  # both were just checked: a bug gets here
        raise NotFound("prescription not found")
    app = settings.public_app_url.rstrip("/")
    command = SendEmail(
        to=patient.email,
        template="prescription_shared",
        data={
            "name": patient.name,
            "doctorName": doctor.name,
            "prescriptionUrl": f"{app}/prescriptions/{prescription.id}",
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


class Activated(msgspec.Struct, frozen=True):
    """An activation, and what to send once its transaction has committed."""

    prescribed: Prescribed
    email: Submission | None
    notice: Notice


async def activate_prescription(
    access: Access,
    audit: AuditContext,
    prescription_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
    sender: MessageSender,
    renderer: EmailRenderer,
    addresses: AddressValidator,
    live: LiveChannel,
) -> Prescribed:
    async with uow_factory() as uow:
        found = await uow.prescriptions.get(prescription_id, lock=True)
        prescription = await as_prescriber(uow, access, found)
        activated = await activate_in(
            uow, audit, prescription, clock.now(), settings, renderer, addresses
        )
    await after_activation(activated, sender, live)
    return activated.prescribed


async def activate_in(
    uow: UnitOfWork,
    audit: AuditContext,
    prescription: Prescription,
    now: datetime,
    settings: Settings,
    renderer: EmailRenderer,
    addresses: AddressValidator,
) -> Activated:
    """Activate ``prescription`` (its prescriber already checked) in the caller's transaction:
    doses made, the e-mail and the notice written; ``after_activation`` sends them."""
    target = check_transition(prescription, "activate")
    today = local_today(now, await uow.time_zones.of(prescription.patient_id))
    if prescription.ends_on < today:
        raise InvalidTransition(
            "this prescription ended before it was activated; edit its dates first",
            code="prescription_ended",
        )
    active = await _moved(uow, prescription, target, now)
    await record_change(uow, audit, active, "activate", prescription.status, ("status",), now)
    await schedule_doses(uow, active, now, settings.dose_horizon_days)
    warnings = await interaction_warnings(uow, active)
    email = await _share_by_email(uow, active, settings, renderer, addresses)
    notice = await _tell_patient(uow, active)
    return Activated(Prescribed(active, warnings), email, notice)


async def after_activation(activated: Activated, sender: MessageSender, live: LiveChannel) -> None:
    await send_submitted(sender, activated.email)
    await announce(live, [activated.notice])


async def end_prescription(
    access: Access,
    audit: AuditContext,
    prescription_id: uuid.UUID,
    transition: str,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    live: LiveChannel,
) -> Prescription:
    """``complete`` or ``cancel``: the doses still to come are cancelled."""
    now = clock.now()
    async with uow_factory() as uow:
        found = await uow.prescriptions.get(prescription_id, lock=True)
        prescription = await as_prescriber(uow, access, found)
        target = check_transition(prescription, transition)
        ended = await _moved(uow, prescription, target, now)
        await record_change(uow, audit, ended, transition, prescription.status, ("status",), now)
        await uow.doses.cancel_scheduled(ended.id, now, now)
        notice = await _tell_patient(uow, ended)
    await announce(live, [notice])
    return ended


async def expire_ended(
    *, uow_factory: UnitOfWorkFactory[UnitOfWork], clock: Clock, live: LiveChannel
) -> int:
    """Every draft or active prescription past its last day (in its patient's time zone) is
    expired, a batch per transaction; returns how many."""
    expired = 0
    while True:
        now = clock.now()
        told = []
        async with uow_factory() as uow:
            batch = await uow.prescriptions.ended(now, EXPIRY_BATCH)
            for prescription in batch:
                target = check_transition(prescription, "expire")
                moved = await _moved(uow, prescription, target, now)
                await record_change(
                    uow, SYSTEM, moved, "expire", prescription.status, ("status",), now
                )
                await uow.doses.cancel_scheduled(moved.id, now, now)
                if prescription.status is PrescriptionStatus.ACTIVE:
                    told.append(await _tell_patient(uow, moved))
        await announce(live, told)
        expired += len(batch)
        if len(batch) < EXPIRY_BATCH:
            return expired
