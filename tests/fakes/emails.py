"""E-mail in memory: where e-mails wait, how they render, how an address is checked.

The renderer and the address check keep the rules a caller relies on (an address is
refused with the same error as email-validator's, its domain lower-cased) without the
templates or the library, so a unit test reads the e-mail's data rather than its text.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from domain.clock import Clock
from domain.errors import ValidationFailed
from domain.notifications.ports import EmailMessage, RenderedEmail
from tests.fakes.database import FakeDatabase


class FakeEmailRepository:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._emails: dict[uuid.UUID, EmailMessage] = database.table("emails")
        self._clock = clock

    async def add(self, message: EmailMessage) -> None:
        self._emails[message.id] = msgspec.structs.replace(message, created_at=self._clock.now())

    async def get(self, email_id: uuid.UUID) -> EmailMessage | None:
        return self._emails.get(email_id)

    async def mark_handed_over(self, email_id: uuid.UUID, transport: str) -> None:
        message = self._emails[email_id]
        if message.handed_over_at is None:
            self._emails[email_id] = msgspec.structs.replace(
                message, handed_over_at=self._clock.now(), transport=transport
            )


def emails_sent(database: FakeDatabase, template: str | None = None) -> list[EmailMessage]:
    """The e-mails written, oldest first (of ``template`` only, if given)."""
    return [
        message
        for message in database.table("emails").values()
        if template is None or message.template == template
    ]


class FakeRenderer:
    def render(self, template: str, data: dict[str, Any]) -> RenderedEmail:
        text = "\n".join(f"{name}: {value}" for name, value in sorted(data.items()))
        return RenderedEmail(subject=template, text=text, html=f"<pre>{text}</pre>")


class FakeAddresses:
    def normalize(self, address: str) -> str:
        local, _, domain = address.strip().partition("@")
        if not local or "@" in domain or " " in local or "." not in domain.strip("."):
            raise ValidationFailed("'to' is not a valid e-mail address", field="to")
        return f"{local}@{domain.lower()}"
