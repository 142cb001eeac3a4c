"""Sending one stored e-mail: the handler behind the ``email.send`` job kind.

The job payload names the ``email_messages`` row; the address and data are
read from it here, at the last moment, so they never travel through Redis or
land in the job's row. The result holds the Message-ID and transport only.

Handing a message to a mail server cannot be undone, so the row records it
(``handed_over_at``) as soon as the server accepted it, retried while the
attempt holds its job; a later attempt (the relay's re-run after an outcome
was lost) finds the record and completes the job without sending again. A
record that cannot be written in time does not fail the job: the message is
out, so the attempt still reports success.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import structlog

from domain.errors import DatabaseUnavailable, PermanentFailure, ValidationFailed
from domain.jobs.model import Job
from domain.jobs.ports import HeldSteps
from domain.notifications.ports import EmailMessage, EmailRenderer, Mailer, UnitOfWork
from domain.transactions import UnitOfWorkFactory

log = structlog.get_logger(__name__)


class EmailPayload(msgspec.Struct, frozen=True, rename="camel"):
    email_id: uuid.UUID


async def send_email(
    job: Job,
    payload: EmailPayload,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    renderer: EmailRenderer,
    mailer: Mailer,
    held: HeldSteps,
) -> dict[str, Any]:
    message = await held(lambda: _load(uow_factory, payload.email_id))
    if message is None or message.job_id != job.id:
        raise PermanentFailure("the e-mail to send no longer exists", code="email_missing")
    if message.handed_over_at is not None:  # an earlier attempt sent it; its outcome was lost
        log.info("email_already_handed_over")
        return {"messageId": message.message_id, "transport": message.transport or "smtp"}
    try:
        rendered = renderer.render(message.template, message.data)
    except ValidationFailed:
        # It rendered at submit time: only a changed template breaks it, and retrying won't help.
        raise PermanentFailure(
            "the e-mail's template could not be rendered", code="email_render_failed"
        ) from None
    transport = await mailer.deliver(
        to_address=message.to_address, message_id=message.message_id, email=rendered
    )
    try:
        await held(lambda: _record_handed_over(uow_factory, payload.email_id, transport))
    except DatabaseUnavailable:
        # The message is gone and the job is done; only the record of it is missing. If the
        # success cannot be written either, the relay runs the job again and the message is
        # sent once more under the same Message-ID (README, "What may repeat").
        log.warning("email_handover_unrecorded")
    return {"messageId": message.message_id, "transport": transport}


async def _load(uow: UnitOfWorkFactory[UnitOfWork], email_id: uuid.UUID) -> EmailMessage | None:
    async with uow() as unit:
        return await unit.emails.get(email_id)


async def _record_handed_over(
    uow: UnitOfWorkFactory[UnitOfWork], email_id: uuid.UUID, transport: str
) -> None:
    async with uow() as unit:
        await unit.emails.mark_handed_over(email_id, transport)
