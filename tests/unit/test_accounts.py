"""Account rules without IO: status machine, sign-up and password rules, secrets, refresh tokens."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import msgspec
import pytest

from domain.accounts.model import (
    SECRET_RULES,
    AccountStatus,
    DoctorSignup,
    PatientSignup,
    RefreshVerdict,
    SecretPurpose,
    SignInStep,
    User,
    check_password,
    check_signup,
    check_status_transition,
    clean_phone,
    judge_refresh,
    new_secret_row,
    next_refresh_token,
    next_sign_in_step,
)
from domain.credentials import (
    digest,
    digest_matches,
    new_numeric_code,
    new_recovery_code,
    new_token,
    normalize_recovery_code,
    recovery_code_digest,
)
from domain.errors import InvalidTransition, ValidationFailed
from domain.identity import Role
from tests.support.people import DOCTOR_CHANTHA, PATIENT_ALICE

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


def alice_signup(**changes: object) -> PatientSignup:
    base = PatientSignup(
        email=PATIENT_ALICE.email,
        password=PATIENT_ALICE.password,
        name=PATIENT_ALICE.name,
        phone=PATIENT_ALICE.phone,
        date_of_birth=date.fromisoformat(PATIENT_ALICE.date_of_birth or ""),
    )
    return msgspec.structs.replace(base, **changes)


def chantha_signup(**changes: object) -> DoctorSignup:
    base = DoctorSignup(
        email=DOCTOR_CHANTHA.email,
        password=DOCTOR_CHANTHA.password,
        name=DOCTOR_CHANTHA.name,
        specialty=DOCTOR_CHANTHA.specialty or "",
        licence_number=DOCTOR_CHANTHA.licence_number or "",
        consultation_fee_cents=DOCTOR_CHANTHA.consultation_fee_cents or 0,
    )
    return msgspec.structs.replace(base, **changes)


def user(role: Role = Role.PATIENT, **changes: object) -> User:
    base = User(
        id=uuid.uuid4(),
        email="someone@example.org",
        role=role,
        status=AccountStatus.ACTIVE,
        name="Someone",
        password_hash="x",
        created_at=NOW,
        updated_at=NOW,
    )
    return msgspec.structs.replace(base, **changes)


# -- status machine ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("transition", "current", "target"),
    [
        ("verify", AccountStatus.PENDING, AccountStatus.ACTIVE),
        ("disable", AccountStatus.ACTIVE, AccountStatus.DISABLED),
        ("enable", AccountStatus.DISABLED, AccountStatus.ACTIVE),
    ],
)
def test_legal_status_moves(transition: str, current: AccountStatus, target: AccountStatus) -> None:
    assert check_status_transition(transition, current) is target


@pytest.mark.parametrize(
    ("transition", "current"),
    [
        ("verify", AccountStatus.ACTIVE),
        ("verify", AccountStatus.DISABLED),
        ("disable", AccountStatus.PENDING),
        ("disable", AccountStatus.DISABLED),
        ("enable", AccountStatus.ACTIVE),
        ("enable", AccountStatus.PENDING),
    ],
)
def test_illegal_status_moves(transition: str, current: AccountStatus) -> None:
    with pytest.raises(InvalidTransition):
        check_status_transition(transition, current)


# -- sign-up -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    ["short pw 1", "x" * 129, PATIENT_ALICE.email, PATIENT_ALICE.email.upper() + " "],
)
def test_password_policy_refuses(password: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_password(password, PATIENT_ALICE.email)
    assert caught.value.field == "password"
    assert password not in caught.value.message


@pytest.mark.parametrize("password", ["x" * 12, "y" * 128, "a long passphrase"])
def test_password_policy_accepts(password: str) -> None:
    check_password(password, PATIENT_ALICE.email)


def test_a_patient_signup_is_cleaned() -> None:
    account = check_signup(alice_signup(name="  Alice Sokunthea  "), PATIENT_ALICE.email, TODAY)
    assert account.role is Role.PATIENT
    assert account.name == "Alice Sokunthea"
    assert account.phone == PATIENT_ALICE.phone
    assert account.date_of_birth == date(1984, 2, 29)
    assert account.doctor is None


def test_a_doctor_signup_keeps_the_professional_details() -> None:
    account = check_signup(chantha_signup(), DOCTOR_CHANTHA.email, TODAY)
    assert account.role is Role.DOCTOR
    assert account.doctor is not None
    assert account.doctor.licence_number == DOCTOR_CHANTHA.licence_number
    assert account.doctor.consultation_fee_cents == 2500


def test_a_free_consultation_is_allowed() -> None:
    account = check_signup(chantha_signup(consultation_fee_cents=0), DOCTOR_CHANTHA.email, TODAY)
    assert account.doctor is not None and account.doctor.consultation_fee_cents == 0


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (alice_signup(name="   "), "name"),
        (alice_signup(name="A\nB"), "name"),
        (alice_signup(name="x" * 201), "name"),
        (alice_signup(phone="012 345 678"), "phone"),
        (alice_signup(phone="+0123456789"), "phone"),
        (alice_signup(date_of_birth=TODAY + timedelta(days=1)), "dateOfBirth"),
        (alice_signup(date_of_birth=date(1899, 12, 31)), "dateOfBirth"),
        (alice_signup(password="too short"), "password"),
        (chantha_signup(consultation_fee_cents=-1), "consultationFeeCents"),
        (chantha_signup(specialty=""), "specialty"),
        (chantha_signup(licence_number=" "), "licenceNumber"),
    ],
)
def test_signup_rules_name_the_field_and_not_the_value(
    command: PatientSignup | DoctorSignup, field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_signup(command, command.email, TODAY)
    assert caught.value.field == field
    assert PATIENT_ALICE.name not in caught.value.message


def test_phone_punctuation_is_dropped() -> None:
    assert clean_phone("+855 (12) 345-678") == "+85512345678"


def test_admins_cannot_sign_up() -> None:
    body = b'{"role": "admin", "email": "a@example.org", "password": "x", "name": "A"}'
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(body, type=PatientSignup | DoctorSignup)


# -- one-time secrets ----------------------------------------------------------------------


def test_secret_rules_match_the_brief() -> None:
    assert SECRET_RULES[SecretPurpose.EMAIL_VERIFICATION].lifetime == timedelta(hours=24)
    assert SECRET_RULES[SecretPurpose.PASSWORD_RESET].lifetime == timedelta(minutes=30)
    assert SECRET_RULES[SecretPurpose.PASSWORD_RESET].max_attempts == 1
    assert SECRET_RULES[SecretPurpose.LOGIN_CODE].lifetime == timedelta(minutes=5)
    assert SECRET_RULES[SecretPurpose.LOGIN_CODE].max_attempts == 5
    assert SECRET_RULES[SecretPurpose.MFA_CHALLENGE].lifetime == timedelta(minutes=5)
    assert SECRET_RULES[SecretPurpose.MFA_CHALLENGE].max_attempts == 5


def test_a_secret_lives_until_used_expired_or_worn_out() -> None:
    secret = new_secret_row(uuid.uuid4(), SecretPurpose.LOGIN_CODE, digest("123456"), NOW)
    assert secret.expires_at == NOW + timedelta(minutes=5)
    assert secret.is_live(NOW + timedelta(minutes=4, seconds=59))
    assert not secret.is_live(NOW + timedelta(minutes=5))
    assert not msgspec.structs.replace(secret, used_at=NOW).is_live(NOW)
    assert msgspec.structs.replace(secret, attempts=4).is_live(NOW)
    assert not msgspec.structs.replace(secret, attempts=5).is_live(NOW)


def test_codes_tokens_and_digests() -> None:
    code = new_numeric_code(6)
    assert len(code) == 6 and code.isdigit()
    assert len({new_token() for _ in range(50)}) == 50
    assert digest_matches(code, digest(code))
    assert not digest_matches("000000" if code != "000000" else "111111", digest(code))


def test_recovery_codes_are_typed_forgivingly() -> None:
    code = new_recovery_code()
    assert len(code) == 19 and code.count("-") == 3
    assert normalize_recovery_code(f" {code.upper()} ") == code.replace("-", "")
    assert recovery_code_digest(code.upper().replace("-", " ")) == recovery_code_digest(code)


# -- refresh tokens ------------------------------------------------------------------------


def test_refresh_tokens_rotate_within_their_family() -> None:
    first = next_refresh_token(
        user_id=uuid.uuid4(), token_hash=b"a", now=NOW, ttl=timedelta(days=30)
    )
    child = next_refresh_token(
        user_id=first.user_id, token_hash=b"b", now=NOW, ttl=timedelta(days=30), parent=first
    )
    assert child.family_id == first.family_id and child.parent_id == first.id
    assert judge_refresh(first, NOW) is RefreshVerdict.ROTATE
    assert judge_refresh(first, NOW + timedelta(days=30)) is RefreshVerdict.EXPIRED
    rotated = msgspec.structs.replace(first, rotated_at=NOW)
    assert judge_refresh(rotated, NOW) is RefreshVerdict.REUSED
    revoked = msgspec.structs.replace(rotated, revoked_at=NOW)
    assert judge_refresh(revoked, NOW) is RefreshVerdict.REVOKED


# -- sign-in steps -------------------------------------------------------------------------


def test_what_the_first_factor_leads_to() -> None:
    assert next_sign_in_step(user(Role.PATIENT)) is SignInStep.SESSION
    assert next_sign_in_step(user(Role.DOCTOR)) is SignInStep.SESSION
    assert next_sign_in_step(user(Role.ADMIN)) is SignInStep.ENROLMENT
    for role in (Role.DOCTOR, Role.ADMIN):
        assert next_sign_in_step(user(role, totp_enabled_at=NOW)) is SignInStep.MFA
