"""The small steps every account use case shares, each taking only what it needs.

Use cases take their ports by name (domain/wiring.py) and hand these steps the
one or two they use: the address check, the sealing cipher, the settings that
make a link, the renderer and validator an e-mail job is checked with.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import msgspec

from domain.accounts.model import OneTimeSecret, SecretPurpose, User, new_secret_row
from domain.accounts.ports import UnitOfWork
from domain.auditing import AuditContext, AuditEntry
from domain.errors import NotFound, ValidationFailed
from domain.jobs.ports import Submission
from domain.notifications.email import SendEmail, enqueue_email, sender_domain
from domain.notifications.ports import AddressValidator, EmailRenderer
from domain.policies import Access, Relation
from domain.sealing import Cipher, Sealed, SealedColumn
from domain.settings import Settings

PRODUCT = "Healthplat"


def normalize_email(addresses: AddressValidator, email: str, field: str = "email") -> str:
    """The address in canonical form; the error names ``field`` and never quotes the value."""
    try:
        return addresses.normalize(email)
    except ValidationFailed:
        raise ValidationFailed("not a valid e-mail address", field=field) from None


def own_account(access: Access) -> uuid.UUID:
    """The caller's own account (``/me``, logout, TOTP): there is no other target to check.
    A token whose subject is no account (an old operator's) finds none."""
    access.authorize(Relation.AUTHENTICATED)
    found = access.user_uuid
    if found is None:
        raise NotFound("account not found")
    return found


def app_link(settings: Settings, path: str, token: str) -> str:
    """A link into the web app carrying ``token`` (the app posts it back to the API)."""
    return f"{app_base(settings)}/{path}?{urlencode({'token': token})}"


def app_base(settings: Settings) -> str:
    return settings.public_app_url.rstrip("/")


async def queue_email(
    uow: UnitOfWork,
    user: User,
    template: str,
    data: dict[str, Any],
    *,
    renderer: EmailRenderer,
    addresses: AddressValidator,
    settings: Settings,
) -> Submission:
    """An e-mail to ``user`` in the caller's transaction; it belongs to them as a job."""
    return await enqueue_email(
        uow,
        renderer,
        addresses,
        SendEmail(to=user.email, template=template, data=data),
        owner_id=str(user.id),
        message_id_domain=sender_domain(settings.smtp_from),
    )


async def replace_secret(
    uow: UnitOfWork, user_id: uuid.UUID, purpose: SecretPurpose, secret_hash: bytes, now: datetime
) -> OneTimeSecret:
    """A new one-time secret of ``purpose`` for the account: every unused older one stops
    working (only the latest link or code sent is good)."""
    await uow.secrets.retire(user_id, purpose, now)
    row = new_secret_row(user_id, purpose, secret_hash, now)
    await uow.secrets.add(row)
    return row


def seal(cipher: Cipher, column: SealedColumn, row_id: uuid.UUID, value: str) -> Sealed:
    return cipher.seal(value.encode(), column.context(row_id))


def unseal(cipher: Cipher, column: SealedColumn, row_id: uuid.UUID, sealed: Sealed) -> str:
    return cipher.open(sealed, column.context(row_id)).decode()


def acting_as(context: AuditContext, user: User) -> AuditContext:
    """Public routes know their actor only once a credential names them."""
    if context.actor_id is not None:
        return context
    return msgspec.structs.replace(context, actor_id=str(user.id), actor_role=user.role.value)


async def record_audit(
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
