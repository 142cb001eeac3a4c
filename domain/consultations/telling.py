"""Telling both sides of a consultation what happened to it: in the app and by e-mail,
queued in the transaction of the change (the caller sends and announces after its commit).

A consultation's news is transactional, so it goes by e-mail whatever the notice preferences
say; the e-mail names the time and a link into the app, never the other side's data.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from domain.consultations.model import Consultation
from domain.consultations.ports import UnitOfWork
from domain.jobs.model import SYSTEM_OWNER
from domain.jobs.ports import Submission
from domain.notifications.email import SendEmail, enqueue_email, sender_domain
from domain.notifications.inapp import Notice, NoticeKind
from domain.notifications.notices import notify
from domain.notifications.ports import AddressValidator, EmailRenderer
from domain.settings import Settings


class News:
    """What a change queued: notices to announce and e-mail jobs to send after the commit."""

    def __init__(self) -> None:
        self.notices: list[Notice] = []
        self.emails: list[Submission] = []


def starts_label(consultation: Consultation, time_zone: str = "UTC") -> str:
    local = consultation.starts_at.astimezone(ZoneInfo(time_zone))
    return f"{local:%Y-%m-%d %H:%M} ({time_zone})"


def appointment_url(settings: Settings, consultation: Consultation) -> str:
    return f"{settings.public_app_url.rstrip('/')}/consultations/{consultation.id}"


async def tell_parties(
    uow: UnitOfWork,
    news: News,
    consultation: Consultation,
    *,
    settings: Settings,
    renderer: EmailRenderer,
    addresses: AddressValidator,
    patient_only: bool = False,
) -> None:
    """A ``consultation.update`` notice and e-mail to the patient and (unless told not to)
    the doctor, naming the consultation's new status."""
    people = [consultation.patient_id] if patient_only else list(consultation.parties)
    for user_id in people:
        news.notices.append(
            await notify(
                uow,
                user_id,
                NoticeKind.CONSULTATION_UPDATE,
                {"consultationId": str(consultation.id), "status": consultation.status.value},
            )
        )
        contact = await uow.payers.contact(user_id)
        if contact is None:
            continue
        name, address = contact
        command = SendEmail(
            to=address,
            template="consultation_update",
            data={
                "name": name,
                "status": consultation.status.value.replace("_", " "),
                "startsAt": starts_label(consultation),
                "appointmentUrl": appointment_url(settings, consultation),
            },
        )
        news.emails.append(
            await enqueue_email(
                uow,  # type: ignore[arg-type]  # it has the e-mails, jobs and audit it needs
                renderer,
                addresses,
                command,
                owner_id=SYSTEM_OWNER,
                message_id_domain=sender_domain(settings.smtp_from),
                idempotency_key=(
                    f"consultation:{consultation.id}:{consultation.status}:"
                    f"{consultation.updated_at.timestamp()}:{user_id}"
                ),
            )
        )
