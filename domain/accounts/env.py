"""What the account services need from the outside, and the small steps they all share.

The services take one ``AccountEnv`` instead of a dozen ports: the process's
``Services`` (domain.adapters.bootstrap) already has exactly these fields, so
the API passes it as it is, and a test can pass it on a manual clock.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol
from urllib.parse import urlencode

import msgspec

from domain.accounts.model import User
from domain.accounts.ports import PasswordHasher, TotpProvider, UnitOfWork
from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.errors import ValidationFailed
from domain.jobs.ports import MessageSender, Submission
from domain.notifications.email import SendEmail, enqueue_email, sender_domain
from domain.notifications.ports import AddressValidator, EmailRenderer
from domain.sealing import Cipher, Sealed, SealedColumn
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory

PRODUCT = "Healthplat"


class AccountEnv(Protocol):
    settings: Settings
    clock: Clock
    uow: UnitOfWorkFactory[UnitOfWork]
    sender: MessageSender
    renderer: EmailRenderer
    addresses: AddressValidator
    cipher: Cipher
    passwords: PasswordHasher
    totp: TotpProvider


def normalize_email(env: AccountEnv, email: str, field: str = "email") -> str:
    """The address in canonical form; the error names ``field`` and never quotes the value."""
    try:
        return env.addresses.normalize(email)
    except ValidationFailed:
        raise ValidationFailed("not a valid e-mail address", field=field) from None


def app_link(env: AccountEnv, path: str, token: str) -> str:
    """A link into the web app carrying ``token`` (the app posts it back to the API)."""
    base = env.settings.public_app_url.rstrip("/")
    return f"{base}/{path}?{urlencode({'token': token})}"


async def queue_email(
    uow: UnitOfWork, env: AccountEnv, user: User, template: str, data: dict[str, Any]
) -> Submission:
    """An e-mail to ``user`` in the caller's transaction; it belongs to them as a job."""
    return await enqueue_email(
        uow,
        env.renderer,
        env.addresses,
        SendEmail(to=user.email, template=template, data=data),
        owner_id=str(user.id),
        message_id_domain=sender_domain(env.settings.smtp_from),
    )


def seal(env: AccountEnv, column: SealedColumn, row_id: uuid.UUID, value: str) -> Sealed:
    return env.cipher.seal(value.encode(), column.context(row_id))


def unseal(env: AccountEnv, column: SealedColumn, row_id: uuid.UUID, sealed: Sealed) -> str:
    return env.cipher.open(sealed, column.context(row_id)).decode()


def acting_as(context: AuditContext, user: User) -> AuditContext:
    """Public routes know their actor only once a credential names them."""
    if context.actor_id is not None:
        return context
    return msgspec.structs.replace(context, actor_id=str(user.id), actor_role=user.role.value)


async def audit(
    uow: UnitOfWork,
    context: AuditContext,
    user: User,
    action: str,
    *,
    resource_type: str = "user",
    resource_id: str | None = None,
    changed_fields: tuple[str, ...] = (),
) -> None:
    """One audit event by (or about) ``user``; the resource defaults to their account."""
    await uow.audit.record(
        acting_as(context, user),
        AuditEntry(
            action=action,
            resource_type=resource_type,
            resource_id=resource_id or str(user.id),
            changed_fields=changed_fields,
        ),
    )
