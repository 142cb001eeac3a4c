"""Setting up, enabling and disabling TOTP two-factor sign-in (doctors and admins).

Setup needs the account's password (re-authentication: a stolen access token
alone cannot enrol an attacker's authenticator) and stores a new secret
(sealed) that does nothing until a code made from it is confirmed: a
half-finished setup cannot lock anyone out. Enabling
hands out ten single-use recovery codes, once; only their digests are kept.
Disabling needs a current code, so a stolen access token alone cannot
remove the second factor.
"""

from __future__ import annotations

import uuid

import msgspec

from domain.accounts.login import totp_code_holds
from domain.accounts.model import MFA_ROLES, User
from domain.accounts.ports import PasswordHasher, TotpProvider, UnitOfWork
from domain.accounts.sign_in_budget import take_attempt
from domain.accounts.steps import PRODUCT, own_account, record_audit, seal, unseal
from domain.auditing import AuditContext
from domain.clock import Clock
from domain.credentials import RECOVERY_CODE_COUNT, new_recovery_code, recovery_code_digest
from domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from domain.phi.columns import USER_TOTP_SECRET
from domain.policies import Access
from domain.rate_limits import RateLimiter
from domain.sealing import Cipher
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory


class TotpSetup(msgspec.Struct, frozen=True, kw_only=True):
    secret: str
    provisioning_uri: str
    qr_code: str  # an SVG data URI of the provisioning URI


class TotpEnabled(msgspec.Struct, frozen=True, kw_only=True):
    recovery_codes: list[str]


async def _account(uow: UnitOfWork, user_id: uuid.UUID) -> User:
    user = await uow.users.get(user_id)
    if user is None:
        raise NotFound("account not found")
    if user.role not in MFA_ROLES:
        raise Forbidden("two-factor sign-in is offered to doctors and admins")
    return user


async def _password_holds(
    user: User,
    password: str,
    *,
    passwords: PasswordHasher,
    rate_limiter: RateLimiter,
    settings: Settings,
) -> None:
    """Re-authentication: the account's password, counted against its sign-in budget."""
    attempt = await take_attempt(user.email, rate_limiter=rate_limiter, settings=settings)
    if not await passwords.verify(user.password_hash, password):
        raise Forbidden("the password is wrong", code="invalid_password")
    await attempt.succeeded()


async def setup_totp(
    access: Access,
    audit: AuditContext,
    password: str,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
    cipher: Cipher,
    passwords: PasswordHasher,
    totp: TotpProvider,
    rate_limiter: RateLimiter,
) -> TotpSetup:
    """Needs the account's password too: a stolen access token alone must not be able to put
    an attacker's authenticator on the account (and lock its owner out)."""
    user_id = own_account(access)
    async with uow_factory() as uow:
        user = await _account(uow, user_id)
    # The slow hash runs outside any transaction.
    await _password_holds(
        user, password, passwords=passwords, rate_limiter=rate_limiter, settings=settings
    )
    secret = totp.new_secret()
    async with uow_factory() as uow:
        user = await _account(uow, user_id)
        sealed = seal(cipher, USER_TOTP_SECRET, user.id, secret)
        if not await uow.users.store_totp_secret(user.id, sealed, clock.now()):
            raise Conflict("two-factor sign-in is already enabled; disable it first")
        await record_audit(uow, audit, user, "auth.totp_setup", changed_fields=("totp_secret",))
    uri = totp.provisioning_uri(secret, account=user.email, issuer=PRODUCT)
    return TotpSetup(secret=secret, provisioning_uri=uri, qr_code=totp.qr_code(uri))


async def enable_totp(
    access: Access,
    audit: AuditContext,
    code: str,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    cipher: Cipher,
    totp: TotpProvider,
) -> TotpEnabled:
    user_id = own_account(access)
    codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    async with uow_factory() as uow:
        user = await _account(uow, user_id)
        if user.totp_enabled:
            raise Conflict("two-factor sign-in is already enabled")
        if user.totp_secret is None:
            raise Conflict("set two-factor sign-in up first")
        now = clock.now()
        secret = unseal(cipher, USER_TOTP_SECRET, user.id, user.totp_secret)
        step = totp.match(secret, code, at=now, after_step=None)
        if step is None:
            raise ValidationFailed(
                "the code is wrong; check the authenticator app's time", field="code"
            )
        if not await uow.users.enable_totp(user.id, step, now):
            raise Conflict("two-factor sign-in is already enabled")
        await uow.recovery_codes.replace(user.id, [recovery_code_digest(c) for c in codes], now)
        await record_audit(
            uow,
            audit,
            user,
            "auth.totp_enable",
            changed_fields=("totp_enabled_at", "recovery_codes"),
        )
    return TotpEnabled(recovery_codes=codes)


async def disable_totp(
    access: Access,
    audit: AuditContext,
    code: str,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    cipher: Cipher,
    totp: TotpProvider,
) -> None:
    """Needs a current TOTP code. An admin who disables it is back to enrolment-only tokens."""
    user_id = own_account(access)
    async with uow_factory() as uow:
        user = await _account(uow, user_id)
        if not user.totp_enabled:
            raise Conflict("two-factor sign-in is not enabled")
        if not await totp_code_holds(uow, user, code, clock=clock, cipher=cipher, totp=totp):
            raise Forbidden("the code is wrong or was already used", code="invalid_totp_code")
        await uow.users.clear_totp(user.id, clock.now())
        await uow.recovery_codes.clear(user.id)
        await record_audit(
            uow,
            audit,
            user,
            "auth.totp_disable",
            changed_fields=("totp_secret", "totp_enabled_at", "recovery_codes"),
        )
