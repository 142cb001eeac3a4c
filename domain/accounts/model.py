"""Accounts and their credentials as rules: no IO, so every rule is tested on its own.

An account starts ``pending`` until its owner proves the e-mail address is
theirs; an admin may disable and re-enable it. Sign-up creates patients and
doctors only: admins come from the operator's CLI. One-time secrets (links,
codes, MFA challenges) each have one rule for how long they live and how many
wrong guesses they survive. Refresh tokens rotate; a rotated one that comes
back was copied, so its whole family is revoked.
"""

from __future__ import annotations

import enum
import re
import uuid
from datetime import date, datetime, timedelta
from typing import Annotated

import msgspec

from domain.errors import InvalidTransition, ValidationFailed
from domain.identity import Role
from domain.sealing import Sealed
from domain.text_patterns import BLANK, CONTROL

# -- account status ------------------------------------------------------------------------


class AccountStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    DISABLED = "disabled"


STATUS_TRANSITIONS: dict[str, tuple[frozenset[AccountStatus], AccountStatus]] = {
    "verify": (frozenset({AccountStatus.PENDING}), AccountStatus.ACTIVE),
    "disable": (frozenset({AccountStatus.ACTIVE}), AccountStatus.DISABLED),
    "enable": (frozenset({AccountStatus.DISABLED}), AccountStatus.ACTIVE),
}


def check_status_transition(transition: str, current: AccountStatus) -> AccountStatus:
    """The status ``transition`` leads to from ``current``; raises InvalidTransition otherwise."""
    sources, target = STATUS_TRANSITIONS[transition]
    if current not in sources:
        raise InvalidTransition(f"cannot {transition} an account that is {current.value}")
    return target


# -- stored shapes -------------------------------------------------------------------------


class User(msgspec.Struct, frozen=True, kw_only=True):
    """A user row. Sealed values stay sealed here: only a service that needs one opens it."""

    id: uuid.UUID
    email: str
    role: Role
    status: AccountStatus
    name: str
    password_hash: str | None
    phone: Sealed | None = None
    totp_secret: Sealed | None = None
    totp_enabled_at: datetime | None = None
    totp_last_step: int | None = None
    email_verified_at: datetime | None = None
    last_login_at: datetime | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def totp_enabled(self) -> bool:
        return self.totp_enabled_at is not None


class PatientProfile(msgspec.Struct, frozen=True, kw_only=True):
    user_id: uuid.UUID
    date_of_birth: Sealed | None = None


class DoctorProfile(msgspec.Struct, frozen=True, kw_only=True):
    user_id: uuid.UUID
    specialty: str
    licence_number: str
    consultation_fee_cents: int
    currency: str = "USD"


# -- sign-up commands ----------------------------------------------------------------------

# Transport bounds only (a body cannot be absurd); the rules below answer 422 with a reason.
_Email = Annotated[str, msgspec.Meta(max_length=320)]
_Password = Annotated[str, msgspec.Meta(max_length=1024)]
_Text = Annotated[str, msgspec.Meta(max_length=1024)]


class _SignupBase(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    rename="camel",
    forbid_unknown_fields=True,
    tag_field="role",
):
    """What every sign-up carries; the role tag picks the subclass."""

    email: _Email
    password: _Password
    name: _Text
    phone: _Text | None = None


class PatientSignup(_SignupBase, tag="patient"):
    date_of_birth: date | None = None


class DoctorSignup(_SignupBase, tag="doctor"):
    specialty: _Text
    licence_number: _Text
    consultation_fee_cents: int


Signup = PatientSignup | DoctorSignup

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
MAX_NAME_LENGTH = 200
MAX_SPECIALTY_LENGTH = 100
MAX_LICENCE_LENGTH = 64
MAX_FEE_CENTS = 100_000_000
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
# The text and phone rules are regular expressions that ECMA 262 (JSON Schema) and Python
# read alike, applied here with ``re.fullmatch`` and published as is in the API's schema
# (``pattern``), so what the schema calls valid and what these rules accept cannot drift.
# One line of text that is not blank: no control characters, at least one visible one.
TEXT_PATTERN = rf"^[{BLANK}]*[^{CONTROL}{BLANK}][^{CONTROL}]*$"
# E.164 (``+85512345678``), with spaces, dots, dashes and parentheses anywhere for legibility.
_PUNCTUATION = r"[ ().-]*"
PHONE_PATTERN = (
    rf"^{_PUNCTUATION}\+{_PUNCTUATION}[1-9](?:{_PUNCTUATION}[0-9]){{6,14}}{_PUNCTUATION}$"
)
_TEXT = re.compile(TEXT_PATTERN)
_PHONE = re.compile(PHONE_PATTERN)
_PHONE_PUNCTUATION = re.compile(_PUNCTUATION)


def check_password(password: str, email: str) -> None:
    """The password policy: long enough to resist guessing, bounded, not the login name."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"the password must be at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"the password must be at most {MAX_PASSWORD_LENGTH} characters", field="password"
        )
    if password.strip().casefold() == email.strip().casefold():
        raise ValidationFailed("the password must not be the e-mail address", field="password")


def clean_text(value: str, field: str, max_length: int) -> str:
    """One line of 1..max_length characters (``TEXT_PATTERN``), trimmed; the error never quotes
    the value."""
    if not value.strip():
        raise ValidationFailed(f"{field} must not be empty", field=field)
    if len(value) > max_length:
        raise ValidationFailed(f"{field} must be at most {max_length} characters", field=field)
    if not _TEXT.fullmatch(value):
        raise ValidationFailed(f"{field} must not contain control characters", field=field)
    return value.strip()


def clean_name(value: str) -> str:
    return clean_text(value, "name", MAX_NAME_LENGTH)


def clean_phone(value: str) -> str:
    """An international number in E.164 form (``+85512345678``); spaces and dashes are dropped."""
    if not _PHONE.fullmatch(value):
        raise ValidationFailed(
            "phone must be an international number such as +85512345678", field="phone"
        )
    return _PHONE_PUNCTUATION.sub("", value)


def check_date_of_birth(value: date, today: date) -> date:
    if not EARLIEST_BIRTH_DATE <= value <= today:
        raise ValidationFailed("dateOfBirth must be a past date after 1900", field="dateOfBirth")
    return value


class DoctorDetails(msgspec.Struct, frozen=True, kw_only=True):
    specialty: str
    licence_number: str
    consultation_fee_cents: int


class NewAccount(msgspec.Struct, frozen=True, kw_only=True):
    """A sign-up that passed every rule, values cleaned; the e-mail is normalised by the caller."""

    role: Role
    email: str
    password: str
    name: str
    phone: str | None = None
    date_of_birth: date | None = None
    doctor: DoctorDetails | None = None


def email_lookup_form(address: str) -> str:
    """The text an address's keyed lookup (``users.email_lookup``) is computed from.

    ``address`` is the address as sign-up and sign-in normalise it (``normalize_email``:
    email-validator's form, ASCII only, the domain lowercased); it is lowercased whole
    here because addresses have always been unique and found case-insensitively (the
    ``lower(email)`` index the plaintext column had): ``Alice@example.org`` and
    ``alice@example.org`` are one account.
    """
    return address.lower()


def check_signup(command: Signup, email: str, today: date) -> NewAccount:
    """Apply every sign-up rule to ``command``; ``email`` is its address already normalised."""
    check_password(command.password, email)
    name = clean_name(command.name)
    phone = clean_phone(command.phone) if command.phone is not None else None
    if isinstance(command, DoctorSignup):
        fee = command.consultation_fee_cents
        if not 0 <= fee <= MAX_FEE_CENTS:
            raise ValidationFailed(
                f"consultationFeeCents must be between 0 and {MAX_FEE_CENTS}",
                field="consultationFeeCents",
            )
        details = DoctorDetails(
            specialty=clean_text(command.specialty, "specialty", MAX_SPECIALTY_LENGTH),
            licence_number=clean_text(command.licence_number, "licenceNumber", MAX_LICENCE_LENGTH),
            consultation_fee_cents=fee,
        )
        return NewAccount(
            role=Role.DOCTOR,
            email=email,
            password=command.password,
            name=name,
            phone=phone,
            doctor=details,
        )
    birth = command.date_of_birth
    return NewAccount(
        role=Role.PATIENT,
        email=email,
        password=command.password,
        name=name,
        phone=phone,
        date_of_birth=check_date_of_birth(birth, today) if birth is not None else None,
    )


# -- one-time secrets ----------------------------------------------------------------------


class SecretPurpose(enum.StrEnum):
    EMAIL_VERIFICATION = "email_verification"
    PASSWORD_RESET = "password_reset"
    LOGIN_CODE = "login_code"
    MFA_CHALLENGE = "mfa_challenge"


class SecretRule(msgspec.Struct, frozen=True):
    """How long a secret lives and how many wrong guesses it survives.

    Wrong guesses can only be counted against a secret found by its owner (a
    code looked up by the user it was sent to, an MFA challenge found by its
    token): a link token is found by its hash, so a wrong one finds no row.
    """

    lifetime: timedelta
    max_attempts: int


SECRET_RULES: dict[SecretPurpose, SecretRule] = {
    SecretPurpose.EMAIL_VERIFICATION: SecretRule(timedelta(hours=24), max_attempts=1),
    SecretPurpose.PASSWORD_RESET: SecretRule(timedelta(minutes=30), max_attempts=1),
    SecretPurpose.LOGIN_CODE: SecretRule(timedelta(minutes=5), max_attempts=5),
    SecretPurpose.MFA_CHALLENGE: SecretRule(timedelta(minutes=5), max_attempts=5),
}

LOGIN_CODE_DIGITS = 6


class OneTimeSecret(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    user_id: uuid.UUID
    purpose: SecretPurpose
    secret_hash: bytes
    attempts: int = 0
    max_attempts: int
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    def is_live(self, now: datetime) -> bool:
        """Unused, unexpired, and not worn out by wrong guesses."""
        return self.used_at is None and now < self.expires_at and self.attempts < self.max_attempts


def new_secret_row(
    user_id: uuid.UUID, purpose: SecretPurpose, secret_hash: bytes, now: datetime
) -> OneTimeSecret:
    rule = SECRET_RULES[purpose]
    return OneTimeSecret(
        id=uuid.uuid4(),
        user_id=user_id,
        purpose=purpose,
        secret_hash=secret_hash,
        max_attempts=rule.max_attempts,
        created_at=now,
        expires_at=now + rule.lifetime,
    )


def lifetime_minutes(purpose: SecretPurpose) -> int:
    return int(SECRET_RULES[purpose].lifetime.total_seconds() // 60)


# -- refresh tokens ------------------------------------------------------------------------


class RefreshToken(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    user_id: uuid.UUID
    family_id: uuid.UUID
    parent_id: uuid.UUID | None = None
    token_hash: bytes
    created_at: datetime
    expires_at: datetime
    rotated_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_reason: str | None = None


class RefreshVerdict(enum.Enum):
    ROTATE = "rotate"  # good: retire it and issue its child
    REUSED = "reused"  # rotated before: a copy is in someone else's hands; revoke the family
    REVOKED = "revoked"  # logged out, reset, or already caught reused
    EXPIRED = "expired"


def judge_refresh(token: RefreshToken, now: datetime) -> RefreshVerdict:
    if token.revoked_at is not None:
        return RefreshVerdict.REVOKED
    if token.rotated_at is not None:
        return RefreshVerdict.REUSED
    if now >= token.expires_at:
        return RefreshVerdict.EXPIRED
    return RefreshVerdict.ROTATE


def next_refresh_token(
    *,
    user_id: uuid.UUID,
    token_hash: bytes,
    now: datetime,
    ttl: timedelta,
    parent: RefreshToken | None = None,
) -> RefreshToken:
    """A new session's first token, or the child of ``parent`` in the same family.

    Each token lives ``ttl`` from its own issue: a session stays alive while it
    is used at least that often.
    """
    return RefreshToken(
        id=uuid.uuid4(),
        user_id=user_id,
        family_id=parent.family_id if parent else uuid.uuid4(),
        parent_id=parent.id if parent else None,
        token_hash=token_hash,
        created_at=now,
        expires_at=now + ttl,
    )


class RevokeReason(enum.StrEnum):
    LOGOUT = "logout"
    REUSE = "reuse_detected"
    PASSWORD_RESET = "password_reset"
    DISABLED = "account_disabled"


# -- who may sign in, and how far ----------------------------------------------------------

MFA_ROLES = frozenset({Role.DOCTOR, Role.ADMIN})
MFA_REQUIRED_ROLES = frozenset({Role.ADMIN})


class SignInStep(enum.Enum):
    """What the first factor leads to."""

    SESSION = "session"  # full tokens
    MFA = "mfa"  # a TOTP code (or a recovery code) is still needed
    ENROLMENT = "enrolment"  # only a token that may set up TOTP


def next_sign_in_step(user: User) -> SignInStep:
    if user.totp_enabled:
        return SignInStep.MFA
    if user.role in MFA_REQUIRED_ROLES:
        return SignInStep.ENROLMENT
    return SignInStep.SESSION
