"""Asking for a secret by e-mail (a sign-in code, a password-reset link): one flow, two kinds.

Whatever the address (an account's, nobody's, malformed), the request answers the same and
takes at least ``account_email_min_seconds`` (sign_in_budget.mail_address), so neither its
answer nor its timing tells who has an account; past the address's hourly cap of that kind,
it is refused either way. An account that may receive the kind gets a fresh secret (older
ones of the kind stop working) and its e-mail in one transaction, audited; the e-mail job is
sent after the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domain.accounts.model import AccountStatus, SecretPurpose, User
from domain.accounts.ports import UnitOfWork
from domain.accounts.sign_in_budget import mail_address
from domain.accounts.steps import queue_email, record_audit, replace_secret
from domain.auditing import AuditContext
from domain.clock import Clock
from domain.credentials import digest
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import send_submitted
from domain.notifications.ports import AddressValidator, EmailRenderer
from domain.rate_limits import AddressMail, RateLimiter
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory


@dataclass(frozen=True, kw_only=True)
class EmailedSecret:
    """One kind of secret anyone may ask to have e-mailed to an address."""

    cap: AddressMail  # the address's hourly cap it counts against
    purpose: SecretPurpose
    sent_to: frozenset[AccountStatus]  # the accounts that get one; any other gets nothing
    new_secret: Callable[[], str]
    template: str
    email_data: Callable[[User, str, Settings], dict[str, Any]]  # (account, secret, settings)
    audit_action: str


async def request_emailed_secret(
    audit: AuditContext,
    kind: EmailedSecret,
    email: str,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
    addresses: AddressValidator,
    renderer: EmailRenderer,
    sender: MessageSender,
    rate_limiter: RateLimiter,
) -> None:
    """E-mail a fresh secret of ``kind`` (login.LOGIN_CODE, password_reset.RESET_LINK) if
    ``email`` has an account that may have one."""

    async def email_to(address: str) -> None:
        submission: Submission | None = None
        async with uow_factory() as uow:
            user = await uow.users.by_email(address)
            if user is None or user.status not in kind.sent_to:
                return
            secret = kind.new_secret()
            await replace_secret(uow, user.id, kind.purpose, digest(secret), clock.now())
            submission = await queue_email(
                uow,
                user,
                kind.template,
                kind.email_data(user, secret, settings),
                renderer=renderer,
                addresses=addresses,
                settings=settings,
            )
            await record_audit(uow, audit, user, kind.audit_action)
        await send_submitted(sender, submission)

    await mail_address(
        kind.cap, email, email_to, addresses=addresses, rate_limiter=rate_limiter, settings=settings
    )
