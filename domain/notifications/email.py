"""E-mail notifications: the template catalogue and submitting an e-mail as a durable job.

An e-mail is refused at submit time for anything that would make it fail
later (an unknown template, a missing field, a bad address, a template that
does not render), so a client gets a 4xx now instead of a `failed` job
tomorrow. The address and template data are PHI: they live only in the
``email_messages`` row; the job payload carries that row's id.
"""

from __future__ import annotations

import enum
import re
import uuid
from email.utils import parseaddr
from typing import Any

import msgspec

from domain.auditing import AuditContext, AuditEntry
from domain.errors import ValidationFailed
from domain.jobs.model import Job, NewJob
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import canonical_request, enqueue_job, new_job_id, send_submitted
from domain.notifications.jobs import EMAIL_SEND
from domain.notifications.ports import AddressValidator, EmailMessage, EmailRenderer, UnitOfWork
from domain.settings import Settings
from domain.text_patterns import BLANK, CONTROL
from domain.transactions import UnitOfWorkFactory

DataValue = str | int | float | bool


class SendEmail(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Send ``template`` to ``to``, filled in with ``data``."""

    to: str
    template: str
    data: dict[str, DataValue] = msgspec.field(default_factory=dict)


class FieldKind(enum.Enum):
    """What a data field must hold, so a template never renders a value it cannot use safely."""

    TEXT = "text"  # a non-empty string
    URL = "url"  # an http(s) URL: a javascript: link in a mail client is an attack
    COUNT = "count"  # a positive whole number (minutes, hours)


TEXT, URL, COUNT = FieldKind.TEXT, FieldKind.URL, FieldKind.COUNT

# Every template the platform can send, with the data fields it needs: exactly
# these, no more (an unexpected field is most likely a client's typo).
TEMPLATES: dict[str, dict[str, FieldKind]] = {
    "welcome": {"name": TEXT},
    "account_verification": {"name": TEXT, "verifyUrl": URL, "expiresInHours": COUNT},
    "account_exists": {"name": TEXT, "signInUrl": URL},
    "one_time_code": {"code": TEXT, "expiresInMinutes": COUNT},
    "password_reset": {"name": TEXT, "resetUrl": URL, "expiresInMinutes": COUNT},
    "prescription_shared": {"name": TEXT, "doctorName": TEXT, "prescriptionUrl": URL},
    "appointment_reminder": {
        "name": TEXT,
        "doctorName": TEXT,
        "startsAt": TEXT,
        "appointmentUrl": URL,
    },
    "health_alert": {"name": TEXT, "alertTitle": TEXT, "alertMessage": TEXT},
    "dose_reminder": {"name": TEXT, "dueAt": TEXT, "dosesUrl": URL},
    "payment_receipt": {"name": TEXT, "receiptNumber": TEXT, "amount": TEXT, "paidAt": TEXT},
    "subscription_renewal": {"name": TEXT, "planName": TEXT, "endsOn": TEXT},
    "consultation_update": {"name": TEXT, "status": TEXT, "startsAt": TEXT, "appointmentUrl": URL},
}

# A field name we are willing to quote back; anything else is only counted,
# since a client may have put a value where a name belongs.
_QUOTABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


def _names(names: set[str]) -> str:
    quotable = sorted(name for name in names if _QUOTABLE_NAME.fullmatch(name))
    hidden = len(names) - len(quotable)
    if hidden:
        quotable.append(f"{hidden} other{'s' if hidden > 1 else ''}")
    return ", ".join(quotable)


# C0 controls and DEL, but for tab and line breaks: nothing a mail client shows,
# and NUL may not appear in a message at all (RFC 5322).
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ALLOWED = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
# What each kind of text field accepts, as patterns the API's schema publishes unchanged
# (domain/text_patterns.py): text that is not blank, an http(s) URL; neither with controls.
FIELD_PATTERNS: dict[FieldKind, str] = {
    TEXT: rf"^[\t\n\r{BLANK}]*[^{CONTROL}{BLANK}]{_ALLOWED}*$",
    URL: rf"^[hH][tT][tT][pP][sS]?://{_ALLOWED}*$",
}
_FIELD_RULES = {kind: re.compile(pattern) for kind, pattern in FIELD_PATTERNS.items()}


def _check_value(name: str, kind: FieldKind, value: Any) -> None:
    if kind is COUNT:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValidationFailed(f"data.{name} must be a positive whole number", field="data")
        return
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"data.{name} must be a non-empty string", field="data")
    if _CONTROL_CHARACTERS.search(value):
        raise ValidationFailed(f"data.{name} must not contain control characters", field="data")
    if kind is URL and not value.lower().startswith(("https://", "http://")):
        raise ValidationFailed(f"data.{name} must be an http(s) URL", field="data")
    if not _FIELD_RULES[kind].fullmatch(value):  # the published pattern has the last word
        raise ValidationFailed(f"data.{name} is not valid", field="data")


def validate_template_data(template: str, data: dict[str, Any]) -> None:
    """Raise ValidationFailed unless ``data`` holds exactly the fields ``template`` needs."""
    fields = TEMPLATES.get(template)
    if fields is None:
        raise ValidationFailed(
            f"unknown template; expected one of: {', '.join(sorted(TEMPLATES))}",
            field="template",
        )
    missing = set(fields) - set(data)
    if missing:
        raise ValidationFailed(f"data is missing fields: {_names(missing)}", field="data")
    unexpected = set(data) - set(fields)
    if unexpected:
        raise ValidationFailed(f"data has unexpected fields: {_names(unexpected)}", field="data")
    for name, kind in fields.items():
        _check_value(name, kind, data[name])


def message_id_for(job_id: uuid.UUID, domain: str) -> str:
    """The e-mail's Message-ID, the same on every attempt, so a receiver can drop a repeat."""
    return f"<job-{job_id}@{domain}>"


def sender_domain(smtp_from: str) -> str:
    """The domain of our From address (``Settings.smtp_from``): Message-IDs are minted under it."""
    _, address = parseaddr(smtp_from)
    _, at, domain = address.rpartition("@")
    return domain if at and domain else "localhost"


async def submit_email(
    command: SendEmail,
    owner_id: str,
    idempotency_key: str | None,
    audit: AuditContext,
    message_id_domain: str | None = None,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    sender: MessageSender,
    renderer: EmailRenderer,
    addresses: AddressValidator,
    settings: Settings,
) -> Submission:
    """Validate ``command`` fully, then store the e-mail, its job and its audit event at once.

    Message-IDs name the domain of SMTP_FROM unless ``message_id_domain`` says otherwise."""
    message_id_domain = message_id_domain or sender_domain(settings.smtp_from)
    async with uow_factory() as unit:
        submission = await enqueue_email(
            unit,
            renderer,
            addresses,
            command,
            owner_id=owner_id,
            idempotency_key=idempotency_key,
            message_id_domain=message_id_domain,
        )
        if submission.created:  # a replay wrote nothing, so there is nothing to record
            await unit.audit.record(
                audit,
                AuditEntry(
                    action="email.send",
                    resource_type="job",
                    resource_id=str(submission.job.id),
                    changed_fields=("to", "template", "data"),
                ),
            )
    await send_submitted(sender, submission)
    return submission


async def enqueue_email(
    uow: UnitOfWork,
    renderer: EmailRenderer,
    addresses: AddressValidator,
    command: SendEmail,
    *,
    owner_id: str,
    message_id_domain: str,
    idempotency_key: str | None = None,
) -> Submission:
    """``submit_email`` inside the caller's transaction: the e-mail commits with the rows that
    caused it (a sign-up and its verification e-mail), or not at all.

    The caller sends the job with ``domain.jobs.submit.send_submitted`` after its commit.
    """
    validate_template_data(command.template, command.data)
    to_address = addresses.normalize(command.to)
    renderer.render(command.template, command.data)  # a template error is the client's 4xx now

    email_id = uuid.uuid4()

    async def write(unit: UnitOfWork, job: Job) -> None:
        await unit.emails.add(
            EmailMessage(
                id=email_id,
                job_id=job.id,
                to_address=to_address,
                template=command.template,
                data=dict(command.data),
                message_id=message_id_for(job.id, message_id_domain),
            )
        )

    new = NewJob(
        kind=EMAIL_SEND,
        owner_id=owner_id,
        payload={"emailId": str(email_id)},
        idempotency_key=idempotency_key,
        request=canonical_request(command),
    )
    return await enqueue_job(uow, new, write, job_id=new_job_id())
