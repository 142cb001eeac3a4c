"""Signing in, through in-memory fakes: by password, by e-mailed code, the MFA step, and an
admin's enrolment-only sign-in.

Every refusal of a credential is the same 401 whoever the address belongs to; only an
active account gets in; a second factor (TOTP or a single-use recovery code) finishes the
sign-in of an account that enabled TOTP.
"""

from __future__ import annotations

import msgspec
import pytest

from domain.accounts import login, sessions
from domain.accounts.model import AccountStatus
from domain.errors import Forbidden, ValidationFailed
from domain.identity import MFA_ENROLMENT_SCOPE, Role
from tests.fakes.account_platform import ANONYMOUS, AccountPlatform
from tests.fakes.credentials import old_hash, wrong_code_at
from tests.support.people import ADMIN_EANG, DOCTOR_CHANTHA, PATIENT_ALICE, PATIENT_BOREY


@pytest.fixture
def platform() -> AccountPlatform:
    return AccountPlatform()


def code_in(platform: AccountPlatform) -> str:
    return platform.last_email("one_time_code").data["code"]


# -- by password ---------------------------------------------------------------------------


async def test_the_right_password_starts_a_session(platform) -> None:
    alice = await platform.active(PATIENT_ALICE)
    started = await platform.sign_in(PATIENT_ALICE)
    assert isinstance(started, sessions.SessionStarted)
    assert (started.user_id, started.role) == (alice.id, Role.PATIENT)
    [token] = platform.table("refresh_tokens").values()
    assert token.user_id == alice.id and token.expires_at == started.refresh_expires_at
    assert platform.user(PATIENT_ALICE.email).last_login_at == platform.clock.now()
    login_event = platform.audited()[-1]
    assert (login_event.action, login_event.changed_fields) == ("auth.login", ("password",))
    assert login_event.resource_id == str(token.family_id)


async def test_a_wrong_password_and_an_unknown_address_get_the_same_refusal(platform) -> None:
    await platform.active(PATIENT_ALICE)
    refusals = []
    for email, password in (
        (PATIENT_ALICE.email, "not the password"),
        (PATIENT_BOREY.email, PATIENT_BOREY.password),
        ("not an address", PATIENT_ALICE.password),
    ):
        with pytest.raises(sessions.BadCredentials) as refused:
            await platform.run(login.login_with_password, ANONYMOUS, email, password)
        refusals.append((refused.value.code, refused.value.message))
    assert len(set(refusals)) == 1
    # An unknown address still verifies a password (a dummy hash): its timing is alike.
    assert platform.passwords.verified_without_hash == 2
    assert platform.table("refresh_tokens") == {}


@pytest.mark.parametrize(
    ("status", "code"),
    [(AccountStatus.PENDING, "email_not_verified"), (AccountStatus.DISABLED, "account_disabled")],
)
async def test_only_an_active_account_gets_in(platform, status, code) -> None:
    alice = await platform.sign_up(PATIENT_ALICE)
    platform.table("users")[alice.id] = msgspec.structs.replace(alice, status=status)
    with pytest.raises(Forbidden) as refused:
        await platform.sign_in(PATIENT_ALICE)
    assert refused.value.code == code
    assert platform.table("refresh_tokens") == {}


async def test_a_hash_made_with_older_parameters_is_replaced_at_sign_in(platform) -> None:
    alice = await platform.active(PATIENT_ALICE)
    platform.table("users")[alice.id] = msgspec.structs.replace(
        alice, password_hash=old_hash(PATIENT_ALICE.password)
    )
    await platform.sign_in(PATIENT_ALICE)
    rehashed = platform.user(PATIENT_ALICE.email).password_hash
    assert rehashed is not None and not platform.passwords.needs_rehash(rehashed)
    assert isinstance(await platform.sign_in(PATIENT_ALICE), sessions.SessionStarted)


# -- by e-mailed code ----------------------------------------------------------------------


async def test_an_emailed_code_signs_in_once(platform) -> None:
    alice = await platform.active(PATIENT_ALICE)
    await platform.ask(login.LOGIN_CODE, PATIENT_ALICE.email)
    mail = platform.last_email("one_time_code")
    assert mail.to_address == PATIENT_ALICE.email and mail.data["expiresInMinutes"] == 5
    code = code_in(platform)
    started = await platform.run(login.login_with_code, ANONYMOUS, PATIENT_ALICE.email, code)
    assert isinstance(started, sessions.SessionStarted) and started.user_id == alice.id
    assert platform.audited()[-1].changed_fields == ("login_code",)
    with pytest.raises(sessions.BadCredentials):
        await platform.run(login.login_with_code, ANONYMOUS, PATIENT_ALICE.email, code)


async def test_a_code_dies_after_five_wrong_tries_and_a_newer_one_replaces_it(platform) -> None:
    await platform.active(PATIENT_ALICE)
    await platform.ask(login.LOGIN_CODE, PATIENT_ALICE.email)
    first = code_in(platform)
    await platform.ask(login.LOGIN_CODE, PATIENT_ALICE.email)
    code = code_in(platform)
    if first != code:  # the older code stopped working when the newer was sent
        with pytest.raises(sessions.BadCredentials):
            await platform.run(login.login_with_code, ANONYMOUS, PATIENT_ALICE.email, first)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        with pytest.raises(sessions.BadCredentials):
            await platform.run(login.login_with_code, ANONYMOUS, PATIENT_ALICE.email, wrong)
    with pytest.raises(sessions.BadCredentials):  # worn out, although right
        await platform.run(login.login_with_code, ANONYMOUS, PATIENT_ALICE.email, code)


async def test_a_code_lives_five_minutes(platform) -> None:
    await platform.active(PATIENT_ALICE)
    await platform.ask(login.LOGIN_CODE, PATIENT_ALICE.email)
    platform.clock.advance(5 * 60)
    with pytest.raises(sessions.BadCredentials):
        await platform.run(login.login_with_code, ANONYMOUS, PATIENT_ALICE.email, code_in(platform))


@pytest.mark.parametrize("email", [PATIENT_BOREY.email, "not an address"])
async def test_asking_a_code_for_no_active_account_sends_nothing(platform, email) -> None:
    await platform.sign_up(PATIENT_BOREY)  # pending: no code either
    sent_before = platform.sender.sent[:]
    assert await platform.ask(login.LOGIN_CODE, email) is None
    assert platform.emails("one_time_code") == [] and platform.sender.sent == sent_before


# -- the MFA step --------------------------------------------------------------------------


async def doctor_with_totp(platform: AccountPlatform) -> tuple[str, list[str]]:
    chantha = await platform.active(DOCTOR_CHANTHA, Role.DOCTOR)
    return await platform.with_totp(chantha, DOCTOR_CHANTHA.password)


async def test_an_account_with_totp_needs_a_current_code_once(platform) -> None:
    secret, _ = await doctor_with_totp(platform)
    challenge = await platform.sign_in(DOCTOR_CHANTHA)
    assert isinstance(challenge, sessions.MfaRequired)
    assert platform.table("refresh_tokens") == {}  # no session before the second factor
    code = platform.totp_code(secret)
    factor = login.SecondFactor(code=code)
    started = await platform.run(login.complete_mfa, ANONYMOUS, challenge.mfa_token, factor)
    assert isinstance(started, sessions.SessionStarted)
    assert platform.audited()[-1].changed_fields == ("totp",)
    again = await platform.sign_in(DOCTOR_CHANTHA)
    with pytest.raises(login.MfaFailed):  # the same code, within its step: used already
        await platform.run(login.complete_mfa, ANONYMOUS, again.mfa_token, factor)


async def test_a_challenge_dies_after_five_wrong_codes_or_five_minutes(platform) -> None:
    secret, _ = await doctor_with_totp(platform)
    challenge = await platform.sign_in(DOCTOR_CHANTHA)
    wrong = login.SecondFactor(code=wrong_code_at(secret, platform.clock.now()))
    for _ in range(5):
        with pytest.raises(login.MfaFailed):
            await platform.run(login.complete_mfa, ANONYMOUS, challenge.mfa_token, wrong)
    right = login.SecondFactor(code=platform.totp_code(secret))
    with pytest.raises(login.MfaFailed):
        await platform.run(login.complete_mfa, ANONYMOUS, challenge.mfa_token, right)
    late = await platform.sign_in(DOCTOR_CHANTHA)
    platform.clock.advance(5 * 60)
    with pytest.raises(login.MfaFailed):
        await platform.run(
            login.complete_mfa,
            ANONYMOUS,
            late.mfa_token,
            login.SecondFactor(code=platform.totp_code(secret)),
        )


async def test_a_recovery_code_finishes_a_sign_in_once(platform) -> None:
    _, recovery_codes = await doctor_with_totp(platform)
    factor = login.SecondFactor(recovery_code=recovery_codes[0])
    first = await platform.sign_in(DOCTOR_CHANTHA)
    started = await platform.run(login.complete_mfa, ANONYMOUS, first.mfa_token, factor)
    assert isinstance(started, sessions.SessionStarted)
    assert platform.actions()[-2:] == ["auth.recovery_code_used", "auth.login"]
    second = await platform.sign_in(DOCTOR_CHANTHA)
    with pytest.raises(login.MfaFailed):
        await platform.run(login.complete_mfa, ANONYMOUS, second.mfa_token, factor)


@pytest.mark.parametrize(
    "factor",
    [login.SecondFactor(), login.SecondFactor(code="123456", recovery_code="ABCD-EFGH")],
    ids=["neither", "both"],
)
async def test_the_mfa_step_takes_exactly_one_factor(platform, factor) -> None:
    await doctor_with_totp(platform)
    challenge = await platform.sign_in(DOCTOR_CHANTHA)
    with pytest.raises(ValidationFailed):
        await platform.run(login.complete_mfa, ANONYMOUS, challenge.mfa_token, factor)


async def test_an_emailed_code_also_leads_to_the_mfa_step(platform) -> None:
    await doctor_with_totp(platform)
    await platform.ask(login.LOGIN_CODE, DOCTOR_CHANTHA.email)
    answer = await platform.run(
        login.login_with_code, ANONYMOUS, DOCTOR_CHANTHA.email, code_in(platform)
    )
    assert isinstance(answer, sessions.MfaRequired)


async def test_an_admin_without_totp_gets_only_an_enrolment_token(platform) -> None:
    admin = await platform.admin(ADMIN_EANG)
    answer = await platform.sign_in(ADMIN_EANG)
    assert isinstance(answer, sessions.EnrolmentOnly)
    assert (answer.user_id, answer.role, answer.scope) == (
        admin.id,
        Role.ADMIN,
        MFA_ENROLMENT_SCOPE,
    )
    assert platform.table("refresh_tokens") == {}
    assert platform.actions()[-1] == "auth.login_enrolment"
    secret, _ = await platform.with_totp(admin, ADMIN_EANG.password)
    challenge = await platform.sign_in(ADMIN_EANG)
    assert isinstance(challenge, sessions.MfaRequired)
    factor = login.SecondFactor(code=platform.totp_code(secret))
    started = await platform.run(login.complete_mfa, ANONYMOUS, challenge.mfa_token, factor)
    assert isinstance(started, sessions.SessionStarted) and started.role is Role.ADMIN
