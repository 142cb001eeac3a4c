"""The per-account sign-in budgets through in-memory fakes: wrong guesses per account per
quarter hour, e-mails per address per hour, whichever client asks, known address or not."""

from __future__ import annotations

import pytest

from domain.accounts import login, password_reset, signup, totp
from domain.accounts.sign_in_budget import BudgetUnavailable, TooManyAttempts
from domain.errors import Forbidden
from domain.identity import Role
from domain.rate_limits import (
    ACCOUNT_FAILURE_LIMIT,
    ACCOUNT_FAILURE_WINDOW_SECONDS,
    LOGIN_CODE_LIMIT,
    LOGIN_CODE_WINDOW_SECONDS,
)
from tests.fakes.account_platform import ANONYMOUS, AccountPlatform, signup_of
from tests.fakes.credentials import wrong_code_at
from tests.support.people import DOCTOR_CHANTHA, PATIENT_ALICE, PATIENT_BOREY


@pytest.fixture
def platform() -> AccountPlatform:
    return AccountPlatform()


async def guess(platform: AccountPlatform, email: str, password: str = "a wrong guess") -> None:
    await platform.run(login.login_with_password, ANONYMOUS, email, password)


async def test_ten_wrong_guesses_close_an_account_for_a_quarter_hour(platform) -> None:
    await platform.active(PATIENT_ALICE)
    for _ in range(ACCOUNT_FAILURE_LIMIT):
        with pytest.raises(login.BadCredentials):
            await guess(platform, PATIENT_ALICE.email)
    with pytest.raises(TooManyAttempts) as refused:  # the right password too: nothing checked
        await platform.sign_in(PATIENT_ALICE)
    assert refused.value.decision.reset_seconds == ACCOUNT_FAILURE_WINDOW_SECONDS
    with pytest.raises(TooManyAttempts):  # however the address is typed
        await guess(platform, PATIENT_ALICE.email.upper(), PATIENT_ALICE.password)
    platform.clock.advance(ACCOUNT_FAILURE_WINDOW_SECONDS)
    assert await platform.sign_in(PATIENT_ALICE)


async def test_an_unknown_address_has_the_same_budget(platform) -> None:
    for _ in range(ACCOUNT_FAILURE_LIMIT):
        with pytest.raises(login.BadCredentials):
            await guess(platform, PATIENT_BOREY.email)
    with pytest.raises(TooManyAttempts):
        await guess(platform, PATIENT_BOREY.email)


async def test_a_sign_in_neither_spends_the_budget_nor_refills_it(platform) -> None:
    await platform.active(PATIENT_ALICE)
    for _ in range(ACCOUNT_FAILURE_LIMIT - 1):
        with pytest.raises(login.BadCredentials):
            await guess(platform, PATIENT_ALICE.email)
    for _ in range(3):  # each right answer gives its unit back
        await platform.sign_in(PATIENT_ALICE)
    with pytest.raises(login.BadCredentials):  # the tenth failure is still allowed ...
        await guess(platform, PATIENT_ALICE.email)
    with pytest.raises(TooManyAttempts):  # ... and the earlier nine were not wiped
        await platform.sign_in(PATIENT_ALICE)


async def test_wrong_second_factors_and_reauthentication_spend_the_same_budget(platform) -> None:
    chantha = await platform.active(DOCTOR_CHANTHA, Role.DOCTOR)
    secret, _ = await platform.with_totp(chantha, DOCTOR_CHANTHA.password)
    challenge = await platform.sign_in(DOCTOR_CHANTHA)
    wrong = login.SecondFactor(code=wrong_code_at(secret, platform.clock.now()))
    for _ in range(4):
        with pytest.raises(login.MfaFailed):
            await platform.run(login.complete_mfa, ANONYMOUS, challenge.mfa_token, wrong)
    for _ in range(3):
        with pytest.raises(Forbidden):
            await platform.run(
                totp.setup_totp, platform.access(chantha, "auth.totp_setup"), ANONYMOUS, "no"
            )
    for _ in range(ACCOUNT_FAILURE_LIMIT - 7):
        with pytest.raises(login.BadCredentials):
            await guess(platform, DOCTOR_CHANTHA.email)
    with pytest.raises(TooManyAttempts):
        await platform.sign_in(DOCTOR_CHANTHA)


@pytest.mark.parametrize(
    ("kind", "template"),
    [
        (login.LOGIN_CODE, "one_time_code"),
        (password_reset.RESET_LINK, "password_reset"),
    ],
    ids=["sign-in code", "reset link"],
)
async def test_an_address_gets_five_mails_of_a_kind_an_hour(platform, kind, template) -> None:
    await platform.active(PATIENT_ALICE)
    for _ in range(LOGIN_CODE_LIMIT):
        await platform.ask(kind, PATIENT_ALICE.email)
    for email in (PATIENT_ALICE.email, PATIENT_ALICE.email.upper()):
        with pytest.raises(TooManyAttempts) as refused:
            await platform.ask(kind, email)
        assert refused.value.decision.reset_seconds == LOGIN_CODE_WINDOW_SECONDS
    for _ in range(LOGIN_CODE_LIMIT):  # an address with no account is capped alike
        await platform.ask(kind, PATIENT_BOREY.email)
    with pytest.raises(TooManyAttempts):
        await platform.ask(kind, PATIENT_BOREY.email)
    assert len(platform.emails(template)) == LOGIN_CODE_LIMIT
    platform.clock.advance(LOGIN_CODE_WINDOW_SECONDS)
    await platform.ask(kind, PATIENT_ALICE.email)
    assert len(platform.emails(template)) == LOGIN_CODE_LIMIT + 1


async def test_the_rate_store_holds_no_address(platform) -> None:
    await platform.active(PATIENT_ALICE)
    await platform.ask(login.LOGIN_CODE, PATIENT_ALICE.email)
    with pytest.raises(login.BadCredentials):
        await guess(platform, PATIENT_ALICE.email)
    keys = platform.rate_limiter.keys()
    assert keys and not any("alice" in key.lower() or "example" in key for key in keys)


async def test_with_the_rate_store_down_nothing_is_checked_or_sent(platform) -> None:
    await platform.active(PATIENT_ALICE)
    platform.rate_limiter.available = False
    sent_before = platform.sender.sent[:]
    for attempt in (
        guess(platform, PATIENT_ALICE.email, PATIENT_ALICE.password),
        platform.run(login.login_with_code, ANONYMOUS, PATIENT_ALICE.email, "123456"),
        platform.ask(login.LOGIN_CODE, PATIENT_ALICE.email),
        platform.run(signup.signup, ANONYMOUS, signup_of(PATIENT_BOREY)),
    ):
        with pytest.raises(BudgetUnavailable):
            await attempt
    assert platform.sender.sent == sent_before and platform.table("refresh_tokens") == {}
