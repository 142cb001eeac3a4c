"""What sending e-mail needs from the outside: where e-mails wait, how they render, who delivers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol

import msgspec

from domain.auditing import AuditLog
from domain.jobs.ports import JobRepository


class EmailMessage(msgspec.Struct, frozen=True, kw_only=True):
    """An e-mail waiting in our database: the only place its address and data live."""

    id: uuid.UUID
    job_id: uuid.UUID
    to_address: str
    template: str
    data: dict[str, Any]
    message_id: str
    created_at: datetime | None = None
    # Set once the mail server accepted it (or the outbox holds it): never sent twice.
    handed_over_at: datetime | None = None
    transport: str | None = None


class EmailRepository(Protocol):
    async def add(self, message: EmailMessage) -> None: ...

    async def get(self, email_id: uuid.UUID) -> EmailMessage | None: ...

    async def mark_handed_over(self, email_id: uuid.UUID, transport: str) -> None:
        """Record that the message left us (the first record stands)."""
        ...


class RenderedEmail(msgspec.Struct, frozen=True):
    subject: str
    text: str
    html: str


class EmailRenderer(Protocol):
    def render(self, template: str, data: dict[str, Any]) -> RenderedEmail: ...


class Mailer(Protocol):
    """Delivers one message. Raises TransientFailure or PermanentFailure on refusal."""

    async def deliver(self, *, to_address: str, message_id: str, email: RenderedEmail) -> str: ...


class AddressValidator(Protocol):
    def normalize(self, address: str) -> str:
        """The address in canonical form; raises ValidationFailed(field="to") if it is not one."""
        ...


class UnitOfWork(Protocol):
    """What the notifications feature reads and writes in one database transaction."""

    emails: EmailRepository
    jobs: JobRepository
    audit: AuditLog
