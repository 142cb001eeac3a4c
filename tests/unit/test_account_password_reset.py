"""Password reset through in-memory fakes: an e-mailed single-use link, a new password that
ends every session, and the same answer whatever the address."""

from __future__ import annotations

import msgspec
import pytest

from domain.accounts import password_reset, sessions, signup
from domain.accounts.model import AccountStatus, RevokeReason
from domain.errors import ValidationFailed
from tests.fakes.account_platform import ANONYMOUS, AccountPlatform, link_token
from tests.support.people import ADMIN_EANG, PATIENT_ALICE, PATIENT_BOREY

NEW_PASSWORD = "a brand new passphrase 42"


@pytest.fixture
def platform() -> AccountPlatform:
    return AccountPlatform()


async def reset_link(platform: AccountPlatform, email: str = PATIENT_ALICE.email) -> str:
    await platform.ask(password_reset.RESET_LINK, email)
    return link_token(platform.last_email("password_reset"), "resetUrl")


async def test_a_reset_sets_the_password_once_and_ends_every_session(platform) -> None:
    await platform.active(PATIENT_ALICE)
    sessions_before = [await platform.sign_in(PATIENT_ALICE) for _ in range(2)]
    token = await reset_link(platform)
    mail = platform.last_email("password_reset")
    assert mail.to_address == PATIENT_ALICE.email and mail.data["expiresInMinutes"] == 30
    await platform.run(password_reset.reset_password, ANONYMOUS, token, NEW_PASSWORD)
    assert platform.actions()[-1] == "auth.password_reset"
    revoked = {t.revoked_reason for t in platform.table("refresh_tokens").values()}
    assert revoked == {RevokeReason.PASSWORD_RESET.value}
    for started in sessions_before:
        with pytest.raises(sessions.SessionExpired):
            await platform.run(sessions.refresh_session, ANONYMOUS, started.refresh_token)
    with pytest.raises(sessions.BadCredentials):
        await platform.sign_in(PATIENT_ALICE)
    new = msgspec.structs.replace(PATIENT_ALICE, password=NEW_PASSWORD)
    assert isinstance(await platform.sign_in(new), sessions.SessionStarted)
    with pytest.raises(signup.InvalidLink):  # single use
        await platform.run(password_reset.reset_password, ANONYMOUS, token, "yet another one 43")


async def test_a_refused_password_leaves_the_link_usable(platform) -> None:
    await platform.active(PATIENT_ALICE)
    token = await reset_link(platform)
    with pytest.raises(ValidationFailed):
        await platform.run(password_reset.reset_password, ANONYMOUS, token, "short")
    await platform.run(password_reset.reset_password, ANONYMOUS, token, NEW_PASSWORD)


async def test_a_newer_link_replaces_the_older_and_a_link_lives_thirty_minutes(platform) -> None:
    await platform.active(PATIENT_ALICE)
    older = await reset_link(platform)
    newer = await reset_link(platform)
    with pytest.raises(signup.InvalidLink):
        await platform.run(password_reset.reset_password, ANONYMOUS, older, NEW_PASSWORD)
    platform.clock.advance(30 * 60)
    with pytest.raises(signup.InvalidLink):
        await platform.run(password_reset.reset_password, ANONYMOUS, newer, NEW_PASSWORD)


async def test_a_reset_link_also_verifies_a_pending_account(platform) -> None:
    await platform.sign_up(PATIENT_ALICE)
    token = await reset_link(platform)
    await platform.run(password_reset.reset_password, ANONYMOUS, token, NEW_PASSWORD)
    alice = platform.user(PATIENT_ALICE.email)
    assert alice.status is AccountStatus.ACTIVE and alice.email_verified_at is not None
    assert platform.audited()[-1].changed_fields == ("password", "status", "email_verified_at")


async def test_an_admin_sets_a_first_password_with_the_operators_link(platform) -> None:
    created = await platform.run(
        signup.create_admin, ANONYMOUS, ADMIN_EANG.email, ADMIN_EANG.name, None
    )
    token = created.reset_link.rpartition("token=")[2]
    await platform.run(password_reset.reset_password, ANONYMOUS, token, ADMIN_EANG.password)
    assert isinstance(await platform.sign_in(ADMIN_EANG), sessions.EnrolmentOnly)


@pytest.mark.parametrize("email", [PATIENT_BOREY.email, "not an address", "disabled"])
async def test_a_request_for_no_account_answers_alike_and_sends_nothing(platform, email) -> None:
    alice = await platform.active(PATIENT_ALICE)
    if email == "disabled":
        disabled = msgspec.structs.replace(alice, status=AccountStatus.DISABLED)
        platform.table("users")[alice.id] = disabled
        email = PATIENT_ALICE.email
    sent_before = platform.sender.sent[:]
    answer = await platform.ask(password_reset.RESET_LINK, email)
    assert answer is None
    assert platform.emails("password_reset") == [] and platform.sender.sent == sent_before
