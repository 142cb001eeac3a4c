"""Sessions through in-memory fakes: refresh tokens rotate, a rotated one that comes back
revokes its whole family, and signing out ends one session or all of them."""

from __future__ import annotations

import msgspec
import pytest

from domain.accounts import sessions
from domain.accounts.model import AccountStatus, RevokeReason
from domain.errors import NotFound, ValidationFailed
from domain.identity import Principal, Role
from domain.policies import Access, policy_named
from tests.fakes.account_platform import ANONYMOUS, AccountPlatform
from tests.support.people import PATIENT_ALICE, PATIENT_BOREY


@pytest.fixture
def platform() -> AccountPlatform:
    return AccountPlatform()


def revoked(platform: AccountPlatform) -> dict[str, int]:
    reasons: dict[str, int] = {}
    for token in platform.table("refresh_tokens").values():
        if token.revoked_at is not None:
            reasons[token.revoked_reason] = reasons.get(token.revoked_reason, 0) + 1
    return reasons


async def test_a_refresh_rotates_the_token_within_its_family(platform) -> None:
    await platform.active(PATIENT_ALICE)
    first = await platform.sign_in(PATIENT_ALICE)
    platform.clock.advance(600)
    second = await platform.run(sessions.refresh_session, ANONYMOUS, first.refresh_token)
    assert second.refresh_token != first.refresh_token and second.user_id == first.user_id
    assert second.refresh_expires_at > first.refresh_expires_at  # each lives its own ttl
    parent, child = sorted(platform.table("refresh_tokens").values(), key=lambda t: t.created_at)
    assert parent.rotated_at == platform.clock.now() and child.parent_id == parent.id
    assert child.family_id == parent.family_id
    assert platform.actions()[-1] == "auth.refresh"


async def test_a_rotated_token_presented_again_revokes_the_whole_family(platform) -> None:
    await platform.active(PATIENT_ALICE)
    first = await platform.sign_in(PATIENT_ALICE)
    other_session = await platform.sign_in(PATIENT_ALICE)
    second = await platform.run(sessions.refresh_session, ANONYMOUS, first.refresh_token)
    with pytest.raises(sessions.SessionExpired):  # the copy comes back: committed revocation
        await platform.run(sessions.refresh_session, ANONYMOUS, first.refresh_token)
    with pytest.raises(sessions.SessionExpired):  # the rightful child dies with it
        await platform.run(sessions.refresh_session, ANONYMOUS, second.refresh_token)
    assert revoked(platform) == {RevokeReason.REUSE.value: 2}
    # Another session of the same account is another family: untouched.
    assert await platform.run(sessions.refresh_session, ANONYMOUS, other_session.refresh_token)


async def test_an_expired_or_unknown_token_refreshes_nothing(platform) -> None:
    await platform.active(PATIENT_ALICE)
    first = await platform.sign_in(PATIENT_ALICE)
    with pytest.raises(sessions.SessionExpired):
        await platform.run(sessions.refresh_session, ANONYMOUS, "not a token")
    platform.clock.advance(platform.settings.refresh_token_ttl_seconds)
    with pytest.raises(sessions.SessionExpired):
        await platform.run(sessions.refresh_session, ANONYMOUS, first.refresh_token)
    assert len(platform.table("refresh_tokens")) == 1


async def test_a_disabled_accounts_session_ends_at_its_next_refresh(platform) -> None:
    alice = await platform.active(PATIENT_ALICE)
    first = await platform.sign_in(PATIENT_ALICE)
    disabled = msgspec.structs.replace(alice, status=AccountStatus.DISABLED)
    platform.table("users")[alice.id] = disabled
    with pytest.raises(sessions.SessionExpired):
        await platform.run(sessions.refresh_session, ANONYMOUS, first.refresh_token)
    assert revoked(platform) == {RevokeReason.DISABLED.value: 1}


# -- signing out ---------------------------------------------------------------------------


async def test_sign_out_ends_the_tokens_session_only(platform) -> None:
    alice = await platform.active(PATIENT_ALICE)
    ending = await platform.sign_in(PATIENT_ALICE)
    staying = await platform.sign_in(PATIENT_ALICE)
    access = platform.access(alice, "auth.logout")
    await platform.run(sessions.end_session, access, ANONYMOUS, ending.refresh_token)
    assert platform.actions()[-1] == "auth.logout"
    with pytest.raises(sessions.SessionExpired):
        await platform.run(sessions.refresh_session, ANONYMOUS, ending.refresh_token)
    assert await platform.run(sessions.refresh_session, ANONYMOUS, staying.refresh_token)


async def test_sign_out_everywhere_ends_every_session(platform) -> None:
    alice = await platform.active(PATIENT_ALICE)
    tokens = [(await platform.sign_in(PATIENT_ALICE)).refresh_token for _ in range(3)]
    access = platform.access(alice, "auth.logout")
    await platform.run(sessions.end_session, access, ANONYMOUS, None, True)
    assert revoked(platform) == {RevokeReason.LOGOUT.value: 3}
    assert platform.actions()[-1] == "auth.logout_everywhere"
    for token in tokens:
        with pytest.raises(sessions.SessionExpired):
            await platform.run(sessions.refresh_session, ANONYMOUS, token)


async def test_someone_elses_token_is_ignored_and_nothing_given_is_refused(platform) -> None:
    alice = await platform.active(PATIENT_ALICE)
    await platform.active(PATIENT_BOREY)
    boreys = await platform.sign_in(PATIENT_BOREY)
    access = platform.access(alice, "auth.logout")
    before = platform.actions()
    await platform.run(sessions.end_session, access, ANONYMOUS, boreys.refresh_token)
    assert revoked(platform) == {} and platform.actions() == before
    with pytest.raises(ValidationFailed):
        await platform.run(sessions.end_session, access, ANONYMOUS, None)


async def test_a_token_that_names_no_account_signs_nothing_out(platform) -> None:
    operator = Access(
        principal=Principal("healthplat-admin", Role.ADMIN), policy=policy_named("auth.logout")
    )
    with pytest.raises(NotFound):
        await platform.run(sessions.end_session, operator, ANONYMOUS, None, True)
