"""What sending e-mail needs from the outside: where e-mails wait, how they render, who delivers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

import msgspec

from domain.auditing import AuditLog
from domain.jobs.ports import JobRepository
from domain.notifications.inapp import Notice, NoticeKind, NoticePage, NoticeValue


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


class NoticeRepository(Protocol):
    """A user's in-app notices inside one transaction; their fields sealed at rest."""

    async def add(
        self, user_id: uuid.UUID, kind: NoticeKind, data: dict[str, NoticeValue]
    ) -> Notice:
        """Store a notice; it gets the next event id (``seq``)."""
        ...

    async def page(
        self, user_id: uuid.UUID, *, unread_only: bool, limit: int, before_seq: int | None
    ) -> NoticePage: ...

    async def after(self, user_id: uuid.UUID, seq: int, limit: int) -> list[Notice]:
        """The user's notices with an event id above ``seq``, oldest first (a live catch-up)."""
        ...

    async def unread(self, user_id: uuid.UUID) -> int: ...

    async def latest_seq(self, user_id: uuid.UUID) -> int:
        """The user's newest event id, 0 when they have no notice."""
        ...

    async def mark_read(
        self, user_id: uuid.UUID, notice_id: uuid.UUID, at: datetime
    ) -> Notice | None:
        """The notice once read (it may have been already); None if it is not the user's."""
        ...

    async def mark_all_read(self, user_id: uuid.UUID, at: datetime) -> int: ...

    async def preferences(self, user_id: uuid.UUID) -> dict[NoticeKind, bool]:
        """Which kinds the user also wants by e-mail (kinds not named: the default)."""
        ...

    async def set_preferences(
        self, user_id: uuid.UUID, choices: dict[NoticeKind, bool]
    ) -> None: ...


class LiveChannel(Protocol):
    """Tells connected clients, in whichever API process they are, that a user has news.

    Only the user's id and the event id travel; a client's connection reads the notice
    itself from the store, as its user. Delivery is best effort: the store is the truth.
    """

    async def announce(self, user_id: uuid.UUID, seq: int) -> None: ...

    def listen(self, user_id: uuid.UUID) -> AbstractAsyncContextManager[AsyncIterator[int]]:
        """Event ids announced for ``user_id`` from now on, while the block is open."""
        ...

    async def close(self) -> None: ...


class UnitOfWork(Protocol):
    """What the notifications feature reads and writes in one database transaction."""

    emails: EmailRepository
    notices: NoticeRepository
    jobs: JobRepository
    audit: AuditLog
