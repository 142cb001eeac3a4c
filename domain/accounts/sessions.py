"""Sessions: what a proven identity is given, and how refresh tokens rotate and die.

A session is a family of refresh tokens. Each refresh retires the token used
and issues its child; a retired token that comes back was copied (the thief
or the owner will present it after the other), so the whole family is
revoked and both must sign in again. The access token is the API's short
JWT, minted by the API from what these functions return, so its format
stays in one place (api/tokens.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import msgspec

from domain.accounts.model import (
    AccountStatus,
    RefreshToken,
    RefreshVerdict,
    RevokeReason,
    SecretPurpose,
    SignInStep,
    User,
    judge_refresh,
    new_secret_row,
    next_refresh_token,
    next_sign_in_step,
)
from domain.accounts.ports import UnitOfWork
from domain.accounts.steps import own_account, record_audit
from domain.auditing import AuditContext
from domain.clock import Clock
from domain.credentials import digest, new_token
from domain.errors import Forbidden, Unauthorized, ValidationFailed
from domain.identity import MFA_ENROLMENT_SCOPE, Role
from domain.policies import Access
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory


class SessionStarted(msgspec.Struct, frozen=True, kw_only=True):
    """Full access: the API mints an access token for ``user_id``/``role``."""

    user_id: uuid.UUID
    role: Role
    refresh_token: str
    refresh_expires_at: datetime


class MfaRequired(msgspec.Struct, frozen=True, kw_only=True):
    """The first factor held; ``mfa_token`` plus a TOTP or recovery code finishes the sign-in."""

    mfa_token: str
    expires_at: datetime


class EnrolmentOnly(msgspec.Struct, frozen=True, kw_only=True):
    """An admin without TOTP: only a token that may set TOTP up (scope ``mfa_enrolment``)."""

    user_id: uuid.UUID
    role: Role
    scope: str = MFA_ENROLMENT_SCOPE


SignIn = SessionStarted | MfaRequired | EnrolmentOnly


class BadCredentials(Unauthorized):
    """Raised when an e-mail and password (or code) do not prove an account. One message for
    an unknown e-mail and a wrong secret, so the answer says nothing about who has an account."""

    code = "invalid_credentials"


class SessionExpired(Unauthorized):
    """Raised when a refresh token is unknown, expired, revoked, or was already used."""

    code = "invalid_refresh_token"


def check_may_sign_in(user: User) -> None:
    """After the credential held: only an active account gets in. Telling a pending owner to
    verify their e-mail reveals nothing, since they just proved who they are."""
    if user.status is AccountStatus.PENDING:
        raise Forbidden("verify your e-mail address first", code="email_not_verified")
    if user.status is not AccountStatus.ACTIVE:
        raise Forbidden("this account is disabled", code="account_disabled")


def refresh_ttl(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.refresh_token_ttl_seconds)


async def issue_session(
    uow: UnitOfWork, user: User, now: datetime, ttl: timedelta
) -> tuple[SessionStarted, uuid.UUID]:
    """A new refresh-token family for ``user``; returns it and the family id (the audit's)."""
    token = new_token()
    row = next_refresh_token(user_id=user.id, token_hash=digest(token), now=now, ttl=ttl)
    await uow.refresh_tokens.add(row)
    await uow.users.record_login(user.id, now)
    started = SessionStarted(
        user_id=user.id, role=user.role, refresh_token=token, refresh_expires_at=row.expires_at
    )
    return started, row.family_id


async def after_first_factor(
    uow: UnitOfWork,
    audit: AuditContext,
    user: User,
    *,
    method: str,
    clock: Clock,
    settings: Settings,
) -> SignIn:
    """The account proved one factor (``method``: password, login_code): a session, an MFA
    challenge, or for an admin without TOTP an enrolment-only token. Audited either way."""
    check_may_sign_in(user)
    now = clock.now()
    step = next_sign_in_step(user)
    if step is SignInStep.MFA:
        token = new_token()
        secret = new_secret_row(user.id, SecretPurpose.MFA_CHALLENGE, digest(token), now)
        await uow.secrets.add(secret)
        await record_audit(uow, audit, user, "auth.mfa_challenge", changed_fields=(method,))
        return MfaRequired(mfa_token=token, expires_at=secret.expires_at)
    if step is SignInStep.ENROLMENT:
        await uow.users.record_login(user.id, now)
        await record_audit(uow, audit, user, "auth.login_enrolment", changed_fields=(method,))
        return EnrolmentOnly(user_id=user.id, role=user.role)
    return await start_session(uow, audit, user, method=method, clock=clock, settings=settings)


async def start_session(
    uow: UnitOfWork,
    audit: AuditContext,
    user: User,
    *,
    method: str,
    clock: Clock,
    settings: Settings,
) -> SessionStarted:
    started, family_id = await issue_session(uow, user, clock.now(), refresh_ttl(settings))
    await record_audit(
        uow,
        audit,
        user,
        "auth.login",
        resource_type="session",
        resource_id=str(family_id),
        changed_fields=(method,),
    )
    return started


async def refresh_session(
    audit: AuditContext,
    refresh_token: str,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
) -> SessionStarted:
    """Rotate ``refresh_token``. A rotated one coming back revokes its family (committed, even
    though the answer is 401), and so does a token of an account no longer active."""
    now = clock.now()
    started: SessionStarted | None = None
    async with uow_factory() as uow:
        token = await uow.refresh_tokens.by_hash(digest(refresh_token))
        if token is not None:
            started = await _rotate(uow, audit, token, now, refresh_ttl(settings))
    if started is None:
        raise SessionExpired("the refresh token is not valid; sign in again")
    return started


async def _rotate(
    uow: UnitOfWork, audit: AuditContext, token: RefreshToken, now: datetime, ttl: timedelta
) -> SessionStarted | None:
    verdict = judge_refresh(token, now)
    if verdict is RefreshVerdict.REUSED:
        await uow.refresh_tokens.revoke_family(token.family_id, now, RevokeReason.REUSE)
        return None
    if verdict is not RefreshVerdict.ROTATE:
        return None
    user = await uow.users.get(token.user_id)
    if user is None or user.status is not AccountStatus.ACTIVE:
        await uow.refresh_tokens.revoke_family(token.family_id, now, RevokeReason.DISABLED)
        return None
    if not await uow.refresh_tokens.rotate(token.id, now):
        # A concurrent refresh rotated it first: that is a reuse as well.
        await uow.refresh_tokens.revoke_family(token.family_id, now, RevokeReason.REUSE)
        return None
    fresh = new_token()
    child = next_refresh_token(
        user_id=user.id, token_hash=digest(fresh), now=now, ttl=ttl, parent=token
    )
    await uow.refresh_tokens.add(child)
    await record_audit(
        uow,
        audit,
        user,
        "auth.refresh",
        resource_type="session",
        resource_id=str(token.family_id),
    )
    return SessionStarted(
        user_id=user.id, role=user.role, refresh_token=fresh, refresh_expires_at=child.expires_at
    )


async def end_session(
    access: Access,
    audit: AuditContext,
    refresh_token: str | None,
    everywhere: bool = False,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
) -> None:
    """Revoke the session ``refresh_token`` belongs to, or every session of the caller.

    A token that is unknown or someone else's is ignored (logging out cannot
    tell a caller anything about another session).
    """
    user_id = own_account(access)
    if refresh_token is None and not everywhere:
        raise ValidationFailed("give the refreshToken to end, or everywhere: true", field="body")
    now = clock.now()
    async with uow_factory() as uow:
        user = await uow.users.get(user_id)
        if user is None:
            return
        if everywhere:
            await uow.refresh_tokens.revoke_all(user.id, now, RevokeReason.LOGOUT)
            await record_audit(uow, audit, user, "auth.logout_everywhere")
            return
        token = await uow.refresh_tokens.by_hash(digest(refresh_token)) if refresh_token else None
        if token is None or token.user_id != user.id:
            return
        await uow.refresh_tokens.revoke_family(token.family_id, now, RevokeReason.LOGOUT)
        await record_audit(
            uow,
            audit,
            user,
            "auth.logout",
            resource_type="session",
            resource_id=str(token.family_id),
        )
