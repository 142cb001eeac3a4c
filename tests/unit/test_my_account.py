"""The caller's own account through in-memory fakes: reading it opens its sealed values and
is audited; a change records which fields changed, never their values."""

from __future__ import annotations

from datetime import date

import pytest

from domain.accounts.my_account import AccountChanges, read_account, update_account
from domain.errors import ValidationFailed
from domain.identity import Role
from domain.phi.columns import USER_PHONE
from tests.fakes.account_platform import ANONYMOUS, AccountPlatform
from tests.support.people import DOCTOR_CHANTHA, PATIENT_ALICE


@pytest.fixture
def platform() -> AccountPlatform:
    return AccountPlatform()


async def test_a_read_opens_the_sealed_values_and_is_audited(platform) -> None:
    alice = await platform.active(PATIENT_ALICE)
    view = await platform.run(read_account, platform.access(alice, "account.read"), ANONYMOUS)
    assert (view.id, view.email, view.name, view.phone) == (
        alice.id,
        PATIENT_ALICE.email,
        PATIENT_ALICE.name,
        PATIENT_ALICE.phone,
    )
    assert view.date_of_birth == date.fromisoformat(PATIENT_ALICE.date_of_birth or "")
    assert view.email_verified and not view.totp_enabled and view.doctor is None
    assert platform.actions()[-1] == "user.read"


async def test_a_doctor_reads_their_profile(platform) -> None:
    chantha = await platform.active(DOCTOR_CHANTHA, Role.DOCTOR)
    view = await platform.run(read_account, platform.access(chantha, "account.read"), ANONYMOUS)
    assert view.doctor is not None and view.doctor.specialty == DOCTOR_CHANTHA.specialty
    assert view.date_of_birth is None


async def test_an_update_changes_and_seals_only_what_is_given(platform) -> None:
    alice = await platform.active(PATIENT_ALICE)
    access = platform.access(alice, "account.update")
    changes = AccountChanges(phone="+855 12 000 111")
    view = await platform.run(update_account, access, ANONYMOUS, changes)
    assert view.phone == "+85512000111" and view.name == PATIENT_ALICE.name
    stored = platform.user(PATIENT_ALICE.email).phone
    assert platform.cipher.open(stored, USER_PHONE.context(alice.id)) == b"+85512000111"
    entry = platform.audited()[-1]
    assert (entry.action, entry.changed_fields) == ("user.update", ("phone",))
    removed = await platform.run(update_account, access, ANONYMOUS, AccountChanges(phone=None))
    assert removed.phone is None and platform.user(PATIENT_ALICE.email).phone is None


@pytest.mark.parametrize("changes", [AccountChanges(), AccountChanges(name=" \t")])
async def test_a_refused_update_changes_nothing(platform, changes) -> None:
    alice = await platform.active(PATIENT_ALICE)
    before = platform.table("users")[alice.id]
    with pytest.raises(ValidationFailed):
        await platform.run(
            update_account, platform.access(alice, "account.update"), ANONYMOUS, changes
        )
    assert platform.table("users")[alice.id] == before
    assert platform.actions()[-1] == "user.verify_email"  # nothing recorded either
