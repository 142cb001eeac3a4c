"""Sending one stored e-mail: the handler behind the ``email.send`` job kind.

The job payload names the ``email_messages`` row; the address and data are
read from it here, at the last moment, so they never travel through Redis or
land in the job's row. The result holds the Message-ID and transport only.
"""

from __future__ import annotations

import uuid
from typing import Any

from domain.adapters.bootstrap import Services
from domain.errors import PermanentFailure, ValidationFailed
from domain.jobs import Job


def _email_id(job: Job) -> uuid.UUID:
    try:
        return uuid.UUID(str(job.payload["emailId"]))
    except (KeyError, ValueError):
        raise PermanentFailure(
            "the job does not name an e-mail to send", code="email_payload_invalid"
        ) from None


async def send_email(job: Job, services: Services) -> dict[str, Any]:
    email_id = _email_id(job)
    async with services.uow() as uow:
        message = await uow.emails.get(email_id)
    if message is None or message.job_id != job.id:
        raise PermanentFailure("the e-mail to send no longer exists", code="email_missing")
    try:
        rendered = services.renderer.render(message.template, message.data)
    except ValidationFailed:
        # It rendered at submit time: only a changed template breaks it, and retrying won't help.
        raise PermanentFailure(
            "the e-mail's template could not be rendered", code="email_render_failed"
        ) from None
    transport = await services.mailer.deliver(
        to_address=message.to_address, message_id=message.message_id, email=rendered
    )
    return {"messageId": message.message_id, "transport": transport}
