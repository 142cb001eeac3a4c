"""The notifications feature's job kinds."""

from __future__ import annotations

from domain.jobs.model import JobKind
from domain.notifications.sending import EmailPayload, send_email

EMAIL_SEND = JobKind(
    name="email.send",
    queue="email",
    handler=send_email,
    payload=EmailPayload,
    # immediately, then 5 min, 15 min, 1 h; then failed. An SMTP 5xx fails at once.
    retry_delays=(0.0, 300.0, 900.0, 3600.0),
    timeout_seconds=600.0,
)
