"""Creating accounts: a patient's or doctor's sign-up, verifying its e-mail, an operator's admin.

A sign-up writes the user, the profile, the verification secret, the e-mail
job and the audit event in one transaction, so there is never an account
without its verification e-mail, or an e-mail about an account that was
rolled back. A sign-up with an address already registered answers exactly
like a new one (same status, same shape, same time: the password is hashed
either way) and e-mails the address's owner instead, so the endpoint cannot
be used to learn who is a patient here.
"""

from __future__ import annotations

import uuid

import msgspec

from domain.account_env import (
    AccountEnv,
    app_link,
    audit,
    normalize_email,
    queue_email,
    seal,
)
from domain.accounts import (
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
from domain.audit import AuditContext, AuditEntry
from domain.credentials import digest, new_token
from domain.errors import Conflict, Unauthorized
from domain.identity import Role
from domain.phi import PATIENT_DATE_OF_BIRTH, USER_PHONE
from domain.ports import Submission, UnitOfWork
from domain.submit import send_submitted

VERIFY_PATH = "verify-email"
RESET_PATH = "reset-password"
SIGN_IN_PATH = "sign-in"


class SignedUp(msgspec.Struct, frozen=True, kw_only=True):
    user_id: uuid.UUID
    status: AccountStatus


class InvalidLink(Unauthorized):
    """Raised when an e-mailed link's token is unknown, used, or expired."""

    code = "invalid_link"


async def signup(env: AccountEnv, command: Signup, context: AuditContext) -> SignedUp:
    email = normalize_email(env, command.email)
    now = env.clock.now()
    account = check_signup(command, email, now.date())
    password_hash = await env.passwords.hash(account.password)
    user = User(
        id=uuid.uuid4(),
        email=email,
        role=account.role,
        status=AccountStatus.PENDING,
        name=account.name,
        password_hash=password_hash,
        created_at=now,
        updated_at=now,
    )
    if account.phone is not None:
        user = msgspec.structs.replace(user, phone=seal(env, USER_PHONE, user.id, account.phone))
    async with env.uow() as uow:
        if await uow.users.add(user):
            await _add_profile(uow, env, user, account)
            submission = await send_verification(uow, env, user)
            await audit(uow, context, user, "user.signup", changed_fields=_given_fields(account))
        else:
            submission = await _answer_taken_address(uow, env, email, context)
    await send_submitted(env.sender, submission)
    # For a taken address the id is a fresh random one that names no account.
    return SignedUp(user_id=user.id, status=AccountStatus.PENDING)


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


def _given_fields(account: NewAccount) -> tuple[str, ...]:
    fields = ["email", "password", "name", "role"]
    fields += [name for name in ("phone", "date_of_birth") if getattr(account, name) is not None]
    if account.doctor is not None:
        fields += ["specialty", "licence_number", "consultation_fee_cents"]
    return tuple(fields)


async def _answer_taken_address(
    uow: UnitOfWork, env: AccountEnv, email: str, context: AuditContext
) -> Submission | None:
    """A pending owner gets a fresh verification link; an active one a note that they exist."""
    existing = await uow.users.by_email(email)
    if existing is None:  # pragma: no cover - the insert just saw it
        return None
    # Not the owner acting (the caller is unknown): the event is about their account.
    await uow.audit.record(
        context,
        AuditEntry(
            action="user.signup_existing", resource_type="user", resource_id=str(existing.id)
        ),
    )
    if existing.status is AccountStatus.PENDING:
        return await send_verification(uow, env, existing)
    if existing.status is AccountStatus.ACTIVE:
        return await queue_email(
            uow,
            env,
            existing,
            "account_exists",
            {"name": existing.name, "signInUrl": f"{_app_base(env)}/{SIGN_IN_PATH}"},
        )
    return None


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
