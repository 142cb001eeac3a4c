"""The one way any feature raises a health alert: ``raise_alert`` in its own transaction,
then ``deliver`` after the commit.

A vital-sign reading out of range, a streak of missed doses, low adherence: the
feature names the rule it checked and what it found (codes, never values or
names) and calls ``raise_alert`` inside the transaction that holds the cause, so
the alert commits with it or not at all. A new alert, or one whose severity
rose, is news: the patient and every doctor actively connected to them get an
in-app notice (``health.alert``), and an e-mail if they asked for that kind by
e-mail. A repeat at the same or a lower severity only updates the open alert
(count, time of the latest): no flood. After the commit, ``deliver`` tells live
clients and sends the e-mail jobs.

    async with uow_factory() as uow:
        ...
        raised = await raise_alert(
            uow, audit=SYSTEM, patient_id=patient_id, rule="adherence.missed_doses",
            severity=Severity.HIGH, summary_code="three_missed_in_a_row", at=now,
            renderer=renderer, addresses=addresses, settings=settings,
        )
    await deliver(raised, live=live, sender=sender)
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
import structlog

from domain.alerts.model import Alert, Breach, Severity, Upserted, check_code
from domain.alerts.ports import UnitOfWork
from domain.auditing import AuditContext, AuditEntry
from domain.errors import ValidationFailed
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import send_submitted
from domain.notifications.email import SendEmail, enqueue_email, sender_domain
from domain.notifications.inapp import Notice, NoticeKind
from domain.notifications.notices import announce, notify, wants_email
from domain.notifications.ports import AddressValidator, EmailRenderer, LiveChannel
from domain.settings import Settings

log = structlog.get_logger(__name__)


class Raised(msgspec.Struct, frozen=True):
    """What ``raise_alert`` did, and what ``deliver`` sends once it is committed."""

    alert: Alert
    created: bool
    escalated: bool
    notices: list[Notice]
    emails: list[Submission]


def alert_entry(action: str, alert_id: uuid.UUID, *fields: str) -> AuditEntry:
    return AuditEntry(
        action=action, resource_type="alert", resource_id=str(alert_id), changed_fields=fields
    )


def _action(upserted: Upserted) -> tuple[str, tuple[str, ...]]:
    if upserted.created:
        return "alert.raise", ("status", "severity", "summary_code", "patient_id", "rule")
    if upserted.escalated:
        return "alert.escalate", ("severity", "summary_code", "status", "occurrences", "last_at")
    return "alert.recur", ("occurrences", "last_at")


async def raise_alert(
    uow: UnitOfWork,
    *,
    audit: AuditContext,
    patient_id: uuid.UUID,
    rule: str,
    severity: Severity,
    summary_code: str,
    at: datetime,
    renderer: EmailRenderer,
    addresses: AddressValidator,
    settings: Settings,
) -> Raised:
    """Raise (or update) the patient's open alert for ``rule``, in ``uow``; audited.

    ``rule`` and ``summary_code`` are lower-case codes (``CODE_PATTERN``); ``at`` is when the
    cause happened (a reading's measured time). Raises ValidationFailed for a malformed code.
    """
    breach = Breach(
        patient_id=patient_id,
        rule=check_code(rule, "rule"),
        severity=severity,
        summary_code=check_code(summary_code, "summary_code"),
        at=at,
    )
    upserted = await uow.alerts.upsert(breach)
    action, fields = _action(upserted)
    await uow.audit.record(audit, alert_entry(action, upserted.alert.id, *fields))
    notices: list[Notice] = []
    emails: list[Submission] = []
    if upserted.news:
        alert = upserted.alert
        for user_id in [patient_id, *await uow.care_team.connected_doctors(patient_id)]:
            notices.append(await notify(uow, user_id, NoticeKind.HEALTH_ALERT, notice_data(alert)))
            if await wants_email(uow, user_id, NoticeKind.HEALTH_ALERT):
                mail = await _email(uow, user_id, alert, renderer, addresses, settings)
                if mail is not None:
                    emails.append(mail)
    return Raised(
        alert=upserted.alert,
        created=upserted.created,
        escalated=upserted.escalated,
        notices=notices,
        emails=emails,
    )


async def deliver(raised: Raised, *, live: LiveChannel, sender: MessageSender) -> None:
    """After the commit: tell live clients, send the e-mail jobs (best effort; the relay and a
    client's catch-up make up for a lost message)."""
    await announce(live, raised.notices)
    await send_submitted(sender, *raised.emails)


def notice_data(alert: Alert) -> dict[str, str | int | bool | None]:
    """What a notice says: ids and codes a client shows, never a value."""
    return {
        "alertId": str(alert.id),
        "patientId": str(alert.patient_id),
        "rule": alert.rule,
        "severity": alert.severity.value,
        "summaryCode": alert.summary_code,
        "escalated": alert.escalated_from is not None,
    }


def alert_title(rule: str) -> str:
    """``blood_pressure.high`` -> ``Blood pressure``: what an e-mail's subject line names."""
    head = rule.split(".", 1)[0].replace("_", " ")
    return {"spo2": "Oxygen saturation (SpO2)"}.get(head, head.capitalize())


def alert_message(alert: Alert) -> str:
    finding = alert.summary_code.replace("_", " ").replace(".", ": ")
    return (
        f"A {alert.severity.value} health alert: {finding}. "
        "Open the app to see the details and what to do next."
    )


async def _email(
    uow: UnitOfWork,
    user_id: uuid.UUID,
    alert: Alert,
    renderer: EmailRenderer,
    addresses: AddressValidator,
    settings: Settings,
) -> Submission | None:
    """The alert's e-mail to one recipient; none (and a warning) when it cannot be made, so an
    address gone bad never stops the alert or the reading that raised it."""
    user = await uow.users.get(user_id)
    if user is None or not user.email:
        return None
    data = {
        "name": user.name or "there",
        "alertTitle": alert_title(alert.rule),
        "alertMessage": alert_message(alert),
    }
    try:
        return await enqueue_email(
            uow,
            renderer,
            addresses,
            SendEmail(to=user.email, template="health_alert", data=data),
            owner_id=str(user_id),
            message_id_domain=sender_domain(settings.smtp_from),
        )
    except ValidationFailed as exc:  # checked before anything is written
        log.warning("alert_email_skipped", alert_id=str(alert.id), reason=exc.code)
        return None
