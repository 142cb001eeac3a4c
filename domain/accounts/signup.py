"""Creating accounts: a patient's or doctor's sign-up, verifying its e-mail, an operator's admin.

A sign-up writes the user, the profile, the verification secret, the e-mail
job and the audit event in one transaction, so there is never an account
without its verification e-mail, or an e-mail about an account that was
rolled back. A sign-up with an address already registered answers exactly
like a new one (same status, same shape, same time: the password is hashed
either way) and e-mails the address's owner instead, so the endpoint cannot
be used to learn who is a patient here.

An address whose account is still pending has proved nothing yet, so a new
sign-up for it replaces that account's credentials and profile (whoever made
them: perhaps someone else, hoping the owner verifies an account they hold the
password of) and revokes every link sent before. A verification link therefore
only ever activates the sign-up that asked for it: the latest one.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from domain.accounts.model import (
    SECRET_RULES,
    AccountStatus,
    DoctorProfile,
    NewAccount,
    PatientProfile,
    SecretPurpose,
    Signup,
    User,
    check_password,
    check_signup,
    check_status_transition,
    clean_name,
)
from domain.accounts.ports import PasswordHasher, UnitOfWork
from domain.accounts.sign_in_budget import spend_address_mail
from domain.accounts.steps import (
    app_base,
    app_link,
    normalize_email,
    queue_email,
    record_audit,
    replace_secret,
    seal,
)
from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.credentials import digest, new_token
from domain.errors import Conflict, Unauthorized
from domain.identity import Role
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import send_submitted
from domain.notifications.ports import AddressValidator, EmailRenderer
from domain.phi.columns import PATIENT_DATE_OF_BIRTH, USER_PHONE
from domain.rate_limits import AddressMail, RateLimiter
from domain.sealing import Cipher
from domain.settings import Settings
from domain.timing_floor import at_least
from domain.transactions import UnitOfWorkFactory

VERIFY_PATH = "verify-email"
RESET_PATH = "reset-password"
SIGN_IN_PATH = "sign-in"


class SignedUp(msgspec.Struct, frozen=True, kw_only=True):
    user_id: uuid.UUID
    status: AccountStatus


class InvalidLink(Unauthorized):
    """Raised when an e-mailed link's token is unknown, used, or expired."""

    code = "invalid_link"


async def signup(
    audit: AuditContext,
    command: Signup,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
    addresses: AddressValidator,
    renderer: EmailRenderer,
    sender: MessageSender,
    passwords: PasswordHasher,
    cipher: Cipher,
    rate_limiter: RateLimiter,
) -> SignedUp:
    email = normalize_email(addresses, command.email)
    now = clock.now()
    account = check_signup(command, email, now.date())
    # Every sign-up mails the address (a link, or "you already have an account"): capped.
    await spend_address_mail(
        AddressMail.SIGNUP, email, rate_limiter=rate_limiter, settings=settings
    )
    # A new and a taken address do different work; the same floor keeps their timing alike.
    async with at_least(settings.account_email_min_seconds):
        password_hash = await passwords.hash(account.password)
        user = _pending_user(cipher, account, uuid.uuid4(), password_hash, now)
        async with uow_factory() as uow:
            if await uow.users.add(user):
                await _add_profile(uow, cipher, user, account)
                to_verify: User | None = user
                await record_audit(
                    uow, audit, user, "user.signup", changed_fields=_given_fields(account)
                )
            else:
                to_verify = await _take_over_pending(
                    uow, audit, account, password_hash, cipher, now
                )
            if to_verify is not None:
                submission = await send_verification(
                    uow, to_verify, now, renderer=renderer, addresses=addresses, settings=settings
                )
            else:
                submission = await _tell_the_owner(
                    uow, audit, account, renderer=renderer, addresses=addresses, settings=settings
                )
        await send_submitted(sender, submission)
    # For a taken address the id is a fresh random one that names no account.
    return SignedUp(user_id=user.id, status=AccountStatus.PENDING)


def _pending_user(
    cipher: Cipher, account: NewAccount, user_id: uuid.UUID, password_hash: str, now: datetime
) -> User:
    """The row a sign-up writes for account ``user_id`` (its id seals the phone)."""
    phone = account.phone
    return User(
        id=user_id,
        email=account.email,
        role=account.role,
        status=AccountStatus.PENDING,
        name=account.name,
        password_hash=password_hash,
        phone=seal(cipher, USER_PHONE, user_id, phone) if phone is not None else None,
        created_at=now,
        updated_at=now,
    )


async def _add_profile(uow: UnitOfWork, cipher: Cipher, user: User, account: NewAccount) -> None:
    if account.doctor is not None:
        await uow.users.add_doctor_profile(
            DoctorProfile(user_id=user.id, **msgspec.structs.asdict(account.doctor))
        )
    elif account.role is Role.PATIENT:
        born = account.date_of_birth
        await uow.users.add_patient_profile(
            PatientProfile(
                user_id=user.id,
                date_of_birth=seal(cipher, PATIENT_DATE_OF_BIRTH, user.id, born.isoformat())
                if born is not None
                else None,
            )
        )


_OPTIONAL_FIELDS = ("phone", "date_of_birth")
_DOCTOR_FIELDS = ("specialty", "licence_number", "consultation_fee_cents")
# A replacement writes everything a sign-up may give: each field is set anew or cleared.
_REPLACED_FIELDS = ("email", "password", "name", "role", *_OPTIONAL_FIELDS, *_DOCTOR_FIELDS)


def _given_fields(account: NewAccount) -> tuple[str, ...]:
    fields = ["email", "password", "name", "role"]
    fields += [name for name in _OPTIONAL_FIELDS if getattr(account, name) is not None]
    if account.doctor is not None:
        fields += _DOCTOR_FIELDS
    return tuple(fields)


async def _take_over_pending(
    uow: UnitOfWork,
    audit: AuditContext,
    account: NewAccount,
    password_hash: str,
    cipher: Cipher,
    now: datetime,
) -> User | None:
    """The address is taken. If its account is pending, it becomes this sign-up's: its
    credentials and profile replaced, every secret issued before revoked; returns it, to be
    sent a new link. None if the account is (or meanwhile became) anything but pending.

    The account's unused secrets are locked before its row, in the order a link's use takes
    them (verify_email, reset_password): a link used meanwhile either finishes first (the
    account is active, and stays untouched) or waits and then finds itself revoked.
    """
    existing = await uow.users.by_email(account.email)
    if existing is None or existing.status is not AccountStatus.PENDING:
        return None
    await uow.secrets.lock_unused(existing.id)
    replacement = _pending_user(cipher, account, existing.id, password_hash, now)
    if not await uow.users.replace_pending(replacement):
        return None  # verified while this sign-up waited
    # A pending account cannot sign in (sessions.check_may_sign_in), and no status leads back
    # to pending: no session, refresh token, TOTP or connection can hang off it. Only
    # e-mailed secrets can (verification and reset links), and those are revoked here.
    await uow.users.remove_profiles(existing.id)
    await _add_profile(uow, cipher, replacement, account)
    await uow.secrets.retire_all(existing.id, now)
    await record_audit(
        uow, audit, replacement, "user.signup_replace", changed_fields=_REPLACED_FIELDS
    )
    return replacement


async def _tell_the_owner(
    uow: UnitOfWork,
    audit: AuditContext,
    account: NewAccount,
    *,
    renderer: EmailRenderer,
    addresses: AddressValidator,
    settings: Settings,
) -> Submission | None:
    """The address belongs to an account that is not pending: its owner (if active) gets a
    note that they already have an account."""
    existing = await uow.users.by_email(account.email)
    if existing is None:  # pragma: no cover - the insert just saw it
        return None
    # Not the owner acting (the caller is unknown): the event is about their account.
    await uow.audit.record(
        audit,
        AuditEntry(
            action="user.signup_existing", resource_type="user", resource_id=str(existing.id)
        ),
    )
    if existing.status is not AccountStatus.ACTIVE:
        return None
    return await queue_email(
        uow,
        existing,
        "account_exists",
        {"name": existing.name, "signInUrl": f"{app_base(settings)}/{SIGN_IN_PATH}"},
        renderer=renderer,
        addresses=addresses,
        settings=settings,
    )


async def send_verification(
    uow: UnitOfWork,
    user: User,
    now: datetime,
    *,
    renderer: EmailRenderer,
    addresses: AddressValidator,
    settings: Settings,
) -> Submission:
    """A new verification link (older ones stop working) and its e-mail, in ``uow``."""
    token = new_token()
    purpose = SecretPurpose.EMAIL_VERIFICATION
    await replace_secret(uow, user.id, purpose, digest(token), now)
    hours = int(SECRET_RULES[purpose].lifetime.total_seconds() // 3600)
    return await queue_email(
        uow,
        user,
        "account_verification",
        {
            "name": user.name,
            "verifyUrl": app_link(settings, VERIFY_PATH, token),
            "expiresInHours": hours,
        },
        renderer=renderer,
        addresses=addresses,
        settings=settings,
    )


async def verify_email(
    audit: AuditContext,
    token: str,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
    addresses: AddressValidator,
    renderer: EmailRenderer,
    sender: MessageSender,
) -> SignedUp:
    """Use a verification link: a pending account becomes active and is welcomed."""
    now = clock.now()
    welcome: Submission | None = None
    async with uow_factory() as uow:
        secret = await uow.secrets.by_hash(SecretPurpose.EMAIL_VERIFICATION, digest(token))
        user = await uow.users.get(secret.user_id) if secret is not None else None
        if user is None or secret is None or not await uow.secrets.consume(secret.id, now):
            raise InvalidLink("the verification link is not valid or has expired")
        status = user.status
        if status is AccountStatus.PENDING:
            status = check_status_transition("verify", status)
            await uow.users.set_status(user.id, user.status, status, now, email_verified=True)
            await record_audit(
                uow,
                audit,
                user,
                "user.verify_email",
                changed_fields=("status", "email_verified_at"),
            )
            welcome = await queue_email(
                uow,
                user,
                "welcome",
                {"name": user.name},
                renderer=renderer,
                addresses=addresses,
                settings=settings,
            )
    await send_submitted(sender, welcome)
    return SignedUp(user_id=user.id, status=status)


class AdminCreated(msgspec.Struct, frozen=True, kw_only=True):
    user_id: uuid.UUID
    reset_link: str | None  # when no password was given: shown once to the operator


async def create_admin(
    audit: AuditContext,
    email: str,
    name: str,
    password: str | None,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
    addresses: AddressValidator,
    passwords: PasswordHasher,
) -> AdminCreated:
    """An operator's admin: active at once (the operator vouches for the address). Without a
    password, a one-time link lets the admin choose one; TOTP is set up at first sign-in."""
    address = normalize_email(addresses, email)
    name = clean_name(name)
    if password is not None:
        check_password(password, address)
    now = clock.now()
    user = User(
        id=uuid.uuid4(),
        email=address,
        role=Role.ADMIN,
        status=AccountStatus.ACTIVE,
        name=name,
        password_hash=await passwords.hash(password) if password is not None else None,
        email_verified_at=now,
        created_at=now,
        updated_at=now,
    )
    link = None
    async with uow_factory() as uow:
        if not await uow.users.add(user):
            raise Conflict("an account with this e-mail address already exists")
        if password is None:
            token = new_token()
            await replace_secret(uow, user.id, SecretPurpose.PASSWORD_RESET, digest(token), now)
            link = app_link(settings, RESET_PATH, token)
        fields = ("email", "name", "role", "status") + (("password",) if password else ())
        await record_audit(uow, audit, user, "user.create_admin", changed_fields=fields)
    return AdminCreated(user_id=user.id, reset_link=link)
