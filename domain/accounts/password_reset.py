"""Forgotten passwords: an e-mailed single-use link, then a new password that ends every session.

The request (``request_emailed_secret`` with ``RESET_LINK``,
domain/accounts/emailed_secrets.py) answers the same whatever the address (known, unknown,
malformed), and takes at least ``account_email_min_seconds`` (the real work
for a known address would otherwise show in its duration), so it cannot be
used to learn who has an account. The link's token is 256 random bits: it
cannot be guessed, so confirming needs no per-account budget beside the
per-address limit. The link proves the mailbox is the owner's, so
confirming it also verifies a pending account's e-mail.
"""

from __future__ import annotations

from typing import Any

from domain.accounts.emailed_secrets import EmailedSecret
from domain.accounts.model import (
    AccountStatus,
    RevokeReason,
    SecretPurpose,
    User,
    check_password,
    check_status_transition,
    lifetime_minutes,
)
from domain.accounts.ports import PasswordHasher, UnitOfWork
from domain.accounts.signup import RESET_PATH, InvalidLink
from domain.accounts.steps import app_link, record_audit
from domain.auditing import AuditContext
from domain.clock import Clock
from domain.credentials import digest, new_token
from domain.rate_limits import AddressMail
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory

PURPOSE = SecretPurpose.PASSWORD_RESET
BAD_LINK = "the reset link is not valid or has expired"


def _link_email(user: User, token: str, settings: Settings) -> dict[str, Any]:
    return {
        "name": user.name,
        "resetUrl": app_link(settings, RESET_PATH, token),
        "expiresInMinutes": lifetime_minutes(PURPOSE),
    }


# A single-use link to choose a new password (request_emailed_secret).
RESET_LINK = EmailedSecret(
    cap=AddressMail.RESET_LINK,
    purpose=PURPOSE,
    # A pending account may reset too: the link proves the mailbox, so it also verifies it.
    sent_to=frozenset({AccountStatus.ACTIVE, AccountStatus.PENDING}),
    new_secret=new_token,
    template="password_reset",
    email_data=_link_email,
    audit_action="auth.password_reset_request",
)


async def reset_password(
    audit: AuditContext,
    token: str,
    password: str,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    passwords: PasswordHasher,
) -> None:
    """Set a new password with a live link; every refresh token of the account is revoked.

    A password the policy refuses does not use the link up. The slow hash is
    made between two short transactions; the second uses the link with a
    guarded update, so of two racing confirmations only one wins.
    """
    secret_hash = digest(token)
    async with uow_factory() as uow:
        secret = await uow.secrets.by_hash(PURPOSE, secret_hash)
        user = await uow.users.get(secret.user_id) if secret is not None else None
    now = clock.now()
    if (
        secret is None
        or user is None
        or not secret.is_live(now)
        or user.status is AccountStatus.DISABLED
    ):
        raise InvalidLink(BAD_LINK)
    check_password(password, user.email)
    password_hash = await passwords.hash(password)
    now = clock.now()
    async with uow_factory() as uow:
        if not await uow.secrets.consume(secret.id, now):
            raise InvalidLink(BAD_LINK)
        await uow.secrets.retire(user.id, PURPOSE, now)
        await uow.users.set_password(user.id, password_hash, now)
        await uow.refresh_tokens.revoke_all(user.id, now, RevokeReason.PASSWORD_RESET)
        changed: tuple[str, ...] = ("password",)
        if user.status is AccountStatus.PENDING:
            status = check_status_transition("verify", user.status)
            if await uow.users.set_status(user.id, user.status, status, now, email_verified=True):
                changed += ("status", "email_verified_at")
        await record_audit(uow, audit, user, "auth.password_reset", changed_fields=changed)
