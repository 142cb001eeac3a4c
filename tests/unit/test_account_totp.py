"""TOTP through in-memory fakes: setting it up needs the password, a confirmed code turns it
on with ten single-use recovery codes, and turning it off needs a current code."""

from __future__ import annotations

import pytest

from domain.accounts import sessions, totp
from domain.accounts.model import AccountStatus
from domain.credentials import RECOVERY_CODE_COUNT
from domain.errors import Conflict, Forbidden, ValidationFailed
from domain.identity import Role
from domain.phi.columns import USER_TOTP_SECRET
from tests.fakes.account_platform import ANONYMOUS, AccountPlatform
from tests.fakes.credentials import wrong_code_at
from tests.support.people import DOCTOR_CHANTHA, PATIENT_ALICE


@pytest.fixture
def platform() -> AccountPlatform:
    return AccountPlatform()


@pytest.fixture
async def chantha(platform):
    return await platform.active(DOCTOR_CHANTHA, Role.DOCTOR)


async def set_up(platform: AccountPlatform, user, password: str = DOCTOR_CHANTHA.password):
    return await platform.run(
        totp.setup_totp, platform.access(user, "auth.totp_setup"), ANONYMOUS, password
    )


async def test_setup_needs_the_password_and_keeps_the_secret_sealed(platform, chantha) -> None:
    with pytest.raises(Forbidden) as refused:
        await set_up(platform, chantha, "not the password")
    assert refused.value.code == "invalid_password"
    assert platform.user(DOCTOR_CHANTHA.email).totp_secret is None
    setup = await set_up(platform, chantha)
    assert setup.provisioning_uri.startswith("otpauth://totp/")
    assert setup.qr_code.startswith("data:image/svg+xml")
    stored = platform.user(DOCTOR_CHANTHA.email).totp_secret
    assert stored is not None and setup.secret.encode() not in stored.blob
    opened = platform.cipher.open(stored, USER_TOTP_SECRET.context(chantha.id)).decode()
    assert opened == setup.secret
    # Set up but not confirmed: signing in is unchanged.
    assert isinstance(await platform.sign_in(DOCTOR_CHANTHA), sessions.SessionStarted)


async def test_a_confirmed_code_turns_totp_on_with_ten_recovery_codes(platform, chantha) -> None:
    setup = await set_up(platform, chantha)
    enable = platform.access(chantha, "auth.totp_enable")
    wrong = wrong_code_at(setup.secret, platform.clock.now())
    with pytest.raises(ValidationFailed):
        await platform.run(totp.enable_totp, enable, ANONYMOUS, wrong)
    enabled = await platform.run(
        totp.enable_totp, enable, ANONYMOUS, platform.totp_code(setup.secret)
    )
    assert len(set(enabled.recovery_codes)) == RECOVERY_CODE_COUNT
    assert len(platform.table("recovery_codes")) == RECOVERY_CODE_COUNT
    stored = {row.code_hash for row in platform.table("recovery_codes").values()}
    assert not any(code.encode() in stored for code in enabled.recovery_codes)  # digests only
    assert platform.user(DOCTOR_CHANTHA.email).totp_enabled
    assert platform.actions()[-2:] == ["auth.totp_setup", "auth.totp_enable"]
    with pytest.raises(Conflict):
        await platform.run(totp.enable_totp, enable, ANONYMOUS, platform.totp_code(setup.secret))
    with pytest.raises(Conflict):  # a new setup would put another authenticator on it
        await set_up(platform, chantha)


async def test_enabling_needs_a_setup_first(platform, chantha) -> None:
    enable = platform.access(chantha, "auth.totp_enable")
    with pytest.raises(Conflict):
        await platform.run(totp.enable_totp, enable, ANONYMOUS, "123456")


async def test_turning_totp_off_needs_a_current_code(platform, chantha) -> None:
    secret, _ = await platform.with_totp(chantha, DOCTOR_CHANTHA.password)
    disable = platform.access(chantha, "auth.totp_disable")
    with pytest.raises(Forbidden) as refused:
        await platform.run(
            totp.disable_totp, disable, ANONYMOUS, wrong_code_at(secret, platform.clock.now())
        )
    assert refused.value.code == "invalid_totp_code"
    await platform.run(totp.disable_totp, disable, ANONYMOUS, platform.totp_code(secret))
    after = platform.user(DOCTOR_CHANTHA.email)
    assert after.totp_secret is None and not after.totp_enabled
    assert platform.table("recovery_codes") == {}
    assert platform.actions()[-1] == "auth.totp_disable"
    assert isinstance(await platform.sign_in(DOCTOR_CHANTHA), sessions.SessionStarted)
    with pytest.raises(Conflict):
        await platform.run(totp.disable_totp, disable, ANONYMOUS, platform.totp_code(secret))


async def test_patients_are_not_offered_totp(platform) -> None:
    alice = await platform.active(PATIENT_ALICE)
    with pytest.raises(Forbidden):
        await platform.run(
            totp.setup_totp, platform.access(alice, "auth.totp_setup"), ANONYMOUS, "anything"
        )
    assert platform.user(PATIENT_ALICE.email).status is AccountStatus.ACTIVE
    assert platform.user(PATIENT_ALICE.email).totp_secret is None
