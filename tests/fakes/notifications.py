"""E-mails in memory, a renderer that only checks the template is known, and a mailer that
keeps what it was handed (and refuses when told to)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from domain.clock import Clock
from domain.errors import JobFailure, ValidationFailed
from domain.notifications.email import TEMPLATES
from domain.notifications.ports import EmailMessage, RenderedEmail
from tests.fakes.database import FakeDatabase


class FakeEmailRepository:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._emails: dict[uuid.UUID, EmailMessage] = database.table("emails")
        self._clock = clock

    async def add(self, message: EmailMessage) -> None:
        self._emails[message.id] = message

    async def get(self, email_id: uuid.UUID) -> EmailMessage | None:
        return self._emails.get(email_id)

    async def mark_handed_over(self, email_id: uuid.UUID, transport: str) -> None:
        message = self._emails[email_id]
        if message.handed_over_at is None:
            self._emails[email_id] = msgspec.structs.replace(
                message, handed_over_at=self._clock.now(), transport=transport
            )


class FakeRenderer:
    def render(self, template: str, data: dict[str, Any]) -> RenderedEmail:
        if template not in TEMPLATES:
            raise ValidationFailed("unknown template", field="template")
        return RenderedEmail(subject=template, text=repr(sorted(data)), html="<p></p>")


class FakeAddresses:
    def normalize(self, address: str) -> str:
        local, at, domain = address.partition("@")
        if not (local and at and "." in domain):
            raise ValidationFailed("not an e-mail address", field="to")
        return f"{local}@{domain.lower()}"


class FakeMailer:
    """Delivers into ``sent`` (message id, address); ``refuse`` makes the next deliveries fail."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.refuse: JobFailure | None = None

    async def deliver(self, *, to_address: str, message_id: str, email: RenderedEmail) -> str:
        if self.refuse is not None:
            raise self.refuse
        self.sent.append((message_id, to_address))
        return "fake"
