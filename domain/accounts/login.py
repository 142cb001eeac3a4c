"""Signing in: with a password, with an e-mailed code, and the second (TOTP) step.

Every refusal of a credential is the same 401, whoever the e-mail belongs
to, and costs about the same time: an unknown e-mail still verifies a
password against a dummy hash. Wrong guesses at a code are counted in a
transaction of their own, which commits although the answer is a refusal.

Every guess also spends the account's budget (domain/accounts/sign_in_budget.py),
whichever address it comes from, and asking for a code spends another; an
unknown e-mail spends them the same way. Asking for a code
(``request_emailed_secret`` with ``LOGIN_CODE``, domain/accounts/emailed_secrets.py)
takes at least ``account_email_min_seconds``, so its duration does not tell who
has an account either.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec

from domain.accounts.emailed_secrets import EmailedSecret
from domain.accounts.model import (
    LOGIN_CODE_DIGITS,
    AccountStatus,
    SecretPurpose,
    User,
    lifetime_minutes,
)
from domain.accounts.ports import PasswordHasher, TotpProvider, UnitOfWork
from domain.accounts.sessions import BadCredentials, SignIn, after_first_factor, start_session
from domain.accounts.sign_in_budget import take_attempt
from domain.accounts.steps import (
    normalize_email,
    record_audit,
    unseal,
)
from domain.auditing import AuditContext
from domain.clock import Clock
from domain.credentials import (
    digest,
    digest_matches,
    new_numeric_code,
    recovery_code_digest,
)
from domain.errors import Unauthorized, ValidationFailed
from domain.notifications.ports import AddressValidator
from domain.phi.columns import USER_TOTP_SECRET
from domain.rate_limits import AddressMail, RateLimiter
from domain.sealing import Cipher
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory

BAD_LOGIN = "the e-mail address or password is wrong"
BAD_CODE = "the code is wrong or has expired"


class MfaFailed(Unauthorized):
    """Raised when an MFA step is refused: an unknown or spent challenge, or a wrong code."""

    code = "invalid_mfa"


async def login_with_password(
    audit: AuditContext,
    email: str,
    password: str,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
    addresses: AddressValidator,
    passwords: PasswordHasher,
    rate_limiter: RateLimiter,
) -> SignIn:
    try:
        address = normalize_email(addresses, email)
    except ValidationFailed:
        address = None
    # A malformed address is no account: it has no budget to spend.
    attempt = (
        await take_attempt(address, rate_limiter=rate_limiter, settings=settings)
        if address
        else None
    )
    async with uow_factory() as uow:
        user = await uow.users.by_email(address) if address else None
    # The slow hash runs between transactions: no pooled connection waits on argon2.
    password_hash = user.password_hash if user is not None else None
    if not await passwords.verify(password_hash, password) or user is None:
        raise BadCredentials(BAD_LOGIN)
    assert password_hash is not None and attempt is not None  # verify() is False without a hash
    await attempt.succeeded()
    rehashed = None
    if passwords.needs_rehash(password_hash):
        rehashed = await passwords.hash(password)
    async with uow_factory() as uow:
        if rehashed is not None:
            await uow.users.set_password(user.id, rehashed, clock.now())
        return await after_first_factor(
            uow, audit, user, method="password", clock=clock, settings=settings
        )


def _code_email(user: User, code: str, settings: Settings) -> dict[str, Any]:
    return {"code": code, "expiresInMinutes": lifetime_minutes(SecretPurpose.LOGIN_CODE)}


# A 6-digit sign-in code, for an active account only (request_emailed_secret).
LOGIN_CODE = EmailedSecret(
    cap=AddressMail.LOGIN_CODE,
    purpose=SecretPurpose.LOGIN_CODE,
    sent_to=frozenset({AccountStatus.ACTIVE}),
    new_secret=functools.partial(new_numeric_code, LOGIN_CODE_DIGITS),
    template="one_time_code",
    email_data=_code_email,
    audit_action="auth.login_code_request",
)


async def login_with_code(
    audit: AuditContext,
    email: str,
    code: str,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
    addresses: AddressValidator,
    rate_limiter: RateLimiter,
) -> SignIn:
    """Check the account's latest code; a wrong guess counts, and the fifth kills the code."""
    try:
        address = normalize_email(addresses, email)
    except ValidationFailed:
        raise BadCredentials(BAD_CODE) from None
    attempt = await take_attempt(address, rate_limiter=rate_limiter, settings=settings)
    now = clock.now()
    async with uow_factory() as uow:
        user = await uow.users.by_email(address)
        secret = await uow.secrets.latest(user.id, SecretPurpose.LOGIN_CODE) if user else None
        if user is None or secret is None or not secret.is_live(now):
            failed = True
        elif not digest_matches(code.strip(), secret.secret_hash):
            await uow.secrets.count_failure(secret.id)
            failed = True
        else:
            failed = not await uow.secrets.consume(secret.id, now)
        if not failed:
            assert user is not None
            await attempt.succeeded()
            return await after_first_factor(
                uow, audit, user, method="login_code", clock=clock, settings=settings
            )
    raise BadCredentials(BAD_CODE)


class SecondFactor(msgspec.Struct, frozen=True, kw_only=True):
    """Exactly one of a TOTP code and a recovery code."""

    code: str | None = None
    recovery_code: str | None = None


async def complete_mfa(
    audit: AuditContext,
    mfa_token: str,
    factor: SecondFactor,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
    cipher: Cipher,
    totp: TotpProvider,
    rate_limiter: RateLimiter,
) -> SignIn:
    """Finish a sign-in with the challenge's token and a TOTP or (single-use) recovery code.

    A token that names an account spends its budget, like its password did; an unknown token
    names none (and cannot be guessed), so only the per-address limit counts it.
    """
    if (factor.code is None) == (factor.recovery_code is None):
        raise ValidationFailed("give either code or recoveryCode", field="code")
    now = clock.now()
    async with uow_factory() as uow:
        challenge = await uow.secrets.by_hash(SecretPurpose.MFA_CHALLENGE, digest(mfa_token))
        user = await uow.users.get(challenge.user_id) if challenge is not None else None
        passed = False
        method = "totp" if factor.code is not None else "recovery_code"
        attempt = (
            await take_attempt(user.email, rate_limiter=rate_limiter, settings=settings)
            if user is not None
            else None
        )
        if challenge is not None and user is not None and challenge.is_live(now):
            passed = await _second_factor_holds(
                uow, user, factor, clock=clock, cipher=cipher, totp=totp
            )
            if not passed:
                await uow.secrets.count_failure(challenge.id)
            else:
                passed = await uow.secrets.consume(challenge.id, now)
        if passed:
            assert user is not None and challenge is not None and attempt is not None
            await attempt.succeeded()
            if method == "recovery_code":
                await record_audit(uow, audit, user, "auth.recovery_code_used")
            return await start_session(
                uow, audit, user, method=method, clock=clock, settings=settings
            )
    raise MfaFailed("the sign-in could not be completed; the code may be wrong or expired")


async def _second_factor_holds(
    uow: UnitOfWork,
    user: User,
    factor: SecondFactor,
    *,
    clock: Clock,
    cipher: Cipher,
    totp: TotpProvider,
) -> bool:
    if user.status is not AccountStatus.ACTIVE or user.totp_secret is None or not user.totp_enabled:
        return False
    if factor.recovery_code is not None:
        return await uow.recovery_codes.consume(
            user.id, recovery_code_digest(factor.recovery_code), clock.now()
        )
    return await totp_code_holds(
        uow, user, factor.code or "", clock=clock, cipher=cipher, totp=totp
    )


async def totp_code_holds(
    uow: UnitOfWork,
    user: User,
    code: str,
    *,
    clock: Clock,
    cipher: Cipher,
    totp: TotpProvider,
) -> bool:
    """A current TOTP code of ``user``'s secret, never accepted before (its step is claimed)."""
    if user.totp_secret is None:
        return False
    secret = unseal(cipher, USER_TOTP_SECRET, user.id, user.totp_secret)
    step = totp.match(secret, code, at=clock.now(), after_step=user.totp_last_step)
    return step is not None and await uow.users.claim_totp_step(user.id, step)
