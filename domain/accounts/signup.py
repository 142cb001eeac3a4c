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

from domain.accounts.env import AccountEnv, app_link, audit, normalize_email, queue_email, seal
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
    new_secret_row,
)
from domain.accounts.ports import UnitOfWork
from domain.accounts.sign_in_budget import SignInEnv, spend_address_mail
from domain.auditing import AuditContext, AuditEntry
from domain.credentials import digest, new_token
from domain.errors import Conflict, Unauthorized
from domain.identity import Role
from domain.jobs.ports import Submission
from domain.jobs.submit import send_submitted
from domain.phi.columns import PATIENT_DATE_OF_BIRTH, USER_PHONE
from domain.rate_limits import AddressMail
from domain.timing_floor import at_least

VERIFY_PATH = "verify-email"
RESET_PATH = "reset-password"
SIGN_IN_PATH = "sign-in"


class SignedUp(msgspec.Struct, frozen=True, kw_only=True):
    user_id: uuid.UUID
    status: AccountStatus


class InvalidLink(Unauthorized):
    """Raised when an e-mailed link's token is unknown, used, or expired."""

    code = "invalid_link"


async def signup(env: SignInEnv, command: Signup, context: AuditContext) -> SignedUp:
    email = normalize_email(env, command.email)
    now = env.clock.now()
    account = check_signup(command, email, now.date())
    # Every sign-up mails the address (a link, or "you already have an account"): capped.
    await spend_address_mail(env, AddressMail.SIGNUP, email)
    # A new and a taken address do different work; the same floor keeps their timing alike.
    async with at_least(env.settings.account_email_min_seconds):
        password_hash = await env.passwords.hash(account.password)
        user = _pending_user(env, account, uuid.uuid4(), password_hash, now)
        async with env.uow() as uow:
            if await uow.users.add(user):
                await _add_profile(uow, env, user, account)
                submission = await send_verification(uow, env, user)
                await audit(
                    uow, context, user, "user.signup", changed_fields=_given_fields(account)
                )
            else:
                submission = await _answer_taken_address(uow, env, account, password_hash, context)
        await send_submitted(env.sender, submission)
    # For a taken address the id is a fresh random one that names no account.
    return SignedUp(user_id=user.id, status=AccountStatus.PENDING)


def _pending_user(
    env: AccountEnv, account: NewAccount, user_id: uuid.UUID, password_hash: str, now: datetime
) -> User:
    """The row a sign-up writes for account ``user_id`` (its id seals the phone)."""
    return User(
        id=user_id,
        email=account.email,
        role=account.role,
        status=AccountStatus.PENDING,
        name=account.name,
        password_hash=password_hash,
        phone=seal(env, USER_PHONE, user_id, account.phone) if account.phone is not None else None,
        created_at=now,
        updated_at=now,
    )


async def _add_profile(uow: UnitOfWork, env: AccountEnv, user: User, account: NewAccount) -> None:
    if account.doctor is not None:
        await uow.users.add_doctor_profile(
            DoctorProfile(user_id=user.id, **msgspec.structs.asdict(account.doctor))
        )
    elif account.role is Role.PATIENT:
        born = account.date_of_birth
        await uow.users.add_patient_profile(
            PatientProfile(
                user_id=user.id,
                date_of_birth=seal(env, PATIENT_DATE_OF_BIRTH, user.id, born.isoformat())
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


async def _answer_taken_address(
    uow: UnitOfWork,
    env: AccountEnv,
    account: NewAccount,
    password_hash: str,
    context: AuditContext,
) -> Submission | None:
    """A pending account becomes this sign-up's, with a fresh link; an active one's owner gets a
    note that they exist."""
    existing = await uow.users.by_email(account.email)
    if existing is not None and existing.status is AccountStatus.PENDING:
        replaced = await _replace_pending(uow, env, existing, account, password_hash, context)
        if replaced is not None:
            return replaced
        existing = await uow.users.get(existing.id)  # verified while this sign-up waited
    if existing is None:  # pragma: no cover - the insert just saw it
        return None
    # Not the owner acting (the caller is unknown): the event is about their account.
    await uow.audit.record(
        context,
        AuditEntry(
            action="user.signup_existing", resource_type="user", resource_id=str(existing.id)
        ),
    )
    if existing.status is AccountStatus.ACTIVE:
        return await queue_email(
            uow,
            env,
            existing,
            "account_exists",
            {"name": existing.name, "signInUrl": f"{_app_base(env)}/{SIGN_IN_PATH}"},
        )
    return None


async def _replace_pending(
    uow: UnitOfWork,
    env: AccountEnv,
    existing: User,
    account: NewAccount,
    password_hash: str,
    context: AuditContext,
) -> Submission | None:
    """Give the pending account ``existing`` this sign-up's credentials and profile, revoke
    every secret issued before, and send a new link. None if it is no longer pending.

    The account's unused secrets are locked before its row, in the order a link's use takes
    them (verify_email, reset_password): a link used meanwhile either finishes first (the
    account is active, and stays untouched) or waits and then finds itself revoked.
    """
    await uow.secrets.lock_unused(existing.id)
    now = env.clock.now()
    replacement = _pending_user(env, account, existing.id, password_hash, now)
    if not await uow.users.replace_pending(replacement):
        return None
    # A pending account cannot sign in (sessions.check_may_sign_in), and no status leads back
    # to pending: no session, refresh token, TOTP or connection can hang off it. Only
    # e-mailed secrets can (verification and reset links), and those are revoked here.
    await uow.users.remove_profiles(existing.id)
    await _add_profile(uow, env, replacement, account)
    await uow.secrets.retire_all(existing.id, now)
    await audit(uow, context, replacement, "user.signup_replace", changed_fields=_REPLACED_FIELDS)
    return await send_verification(uow, env, replacement)


def _app_base(env: AccountEnv) -> str:
    return env.settings.public_app_url.rstrip("/")


async def send_verification(uow: UnitOfWork, env: AccountEnv, user: User) -> Submission:
    """A new verification link (older ones stop working) and its e-mail, in ``uow``."""
    now = env.clock.now()
    token = new_token()
    purpose = SecretPurpose.EMAIL_VERIFICATION
    await uow.secrets.retire(user.id, purpose, now)
    await uow.secrets.add(new_secret_row(user.id, purpose, digest(token), now))
    hours = int(SECRET_RULES[purpose].lifetime.total_seconds() // 3600)
    return await queue_email(
        uow,
        env,
        user,
        "account_verification",
        {
            "name": user.name,
            "verifyUrl": app_link(env, VERIFY_PATH, token),
            "expiresInHours": hours,
        },
    )


async def verify_email(env: AccountEnv, token: str, context: AuditContext) -> SignedUp:
    """Use a verification link: a pending account becomes active and is welcomed."""
    now = env.clock.now()
    welcome: Submission | None = None
    async with env.uow() as uow:
        secret = await uow.secrets.by_hash(SecretPurpose.EMAIL_VERIFICATION, digest(token))
        user = await uow.users.get(secret.user_id) if secret is not None else None
        if user is None or secret is None or not await uow.secrets.consume(secret.id, now):
            raise InvalidLink("the verification link is not valid or has expired")
        status = user.status
        if status is AccountStatus.PENDING:
            status = check_status_transition("verify", status)
            await uow.users.set_status(user.id, user.status, status, now, email_verified=True)
            await audit(
                uow,
                context,
                user,
                "user.verify_email",
                changed_fields=("status", "email_verified_at"),
            )
            welcome = await queue_email(uow, env, user, "welcome", {"name": user.name})
    await send_submitted(env.sender, welcome)
    return SignedUp(user_id=user.id, status=status)


class AdminCreated(msgspec.Struct, frozen=True, kw_only=True):
    user_id: uuid.UUID
    reset_link: str | None  # when no password was given: shown once to the operator


async def create_admin(
    env: AccountEnv, email: str, name: str, password: str | None, context: AuditContext
) -> AdminCreated:
    """An operator's admin: active at once (the operator vouches for the address). Without a
    password, a one-time link lets the admin choose one; TOTP is set up at first sign-in."""
    address = normalize_email(env, email)
    name = clean_name(name)
    if password is not None:
        check_password(password, address)
    now = env.clock.now()
    user = User(
        id=uuid.uuid4(),
        email=address,
        role=Role.ADMIN,
        status=AccountStatus.ACTIVE,
        name=name,
        password_hash=await env.passwords.hash(password) if password is not None else None,
        email_verified_at=now,
        created_at=now,
        updated_at=now,
    )
    link = None
    async with env.uow() as uow:
        if not await uow.users.add(user):
            raise Conflict("an account with this e-mail address already exists")
        if password is None:
            token = new_token()
            await uow.secrets.add(
                new_secret_row(user.id, SecretPurpose.PASSWORD_RESET, digest(token), now)
            )
            link = app_link(env, RESET_PATH, token)
        fields = ("email", "name", "role", "status") + (("password",) if password else ())
        await audit(uow, context, user, "user.create_admin", changed_fields=fields)
    return AdminCreated(user_id=user.id, reset_link=link)
