"""Sign-up, e-mail verification and an operator's admin, through in-memory fakes.

A taken address answers exactly like a new one and e-mails its owner instead; a pending
account is taken over by the latest sign-up, whose link alone still works.
"""

from __future__ import annotations

import msgspec
import pytest

from domain.accounts import signup
from domain.accounts.model import AccountStatus
from domain.accounts.sign_in_budget import TooManyAttempts
from domain.errors import Conflict, ValidationFailed
from domain.identity import Role
from domain.phi.columns import PATIENT_DATE_OF_BIRTH, USER_PHONE
from domain.rate_limits import LOGIN_CODE_LIMIT
from tests.fakes.account_platform import ANONYMOUS, AccountPlatform, link_token, signup_of
from tests.support.people import ADMIN_EANG, DOCTOR_CHANTHA, PATIENT_ALICE, PATIENT_BOREY


@pytest.fixture
def platform() -> AccountPlatform:
    return AccountPlatform()


async def test_a_sign_up_writes_a_pending_account_its_link_and_its_audit_at_once(
    platform,
) -> None:
    answer = await platform.run(signup.signup, ANONYMOUS, signup_of(PATIENT_ALICE))
    user = platform.user(PATIENT_ALICE.email)
    assert (answer.user_id, answer.status) == (user.id, AccountStatus.PENDING)
    assert user.status is AccountStatus.PENDING and user.role is Role.PATIENT
    [mail] = platform.emails("account_verification")
    assert mail.to_address == PATIENT_ALICE.email
    assert mail.data["verifyUrl"].startswith("https://app.example.org/verify-email?token=")
    assert platform.sent_job_ids() == [mail.job_id]  # the job is sent after the commit
    [entry] = platform.audited()
    assert entry.action == "user.signup" and entry.resource_id == str(user.id)
    assert entry.changed_fields == ("email", "password", "name", "role", "phone", "date_of_birth")


async def test_phone_and_birth_date_are_sealed_to_their_row(platform) -> None:
    user = await platform.sign_up(PATIENT_ALICE)
    assert user.phone is not None and PATIENT_ALICE.phone not in repr(platform.table("users"))
    opened = platform.cipher.open(user.phone, USER_PHONE.context(user.id)).decode()
    assert opened == PATIENT_ALICE.phone
    profile = platform.table("patient_profiles")[user.id]
    born = platform.cipher.open(profile.date_of_birth, PATIENT_DATE_OF_BIRTH.context(user.id))
    assert born.decode() == PATIENT_ALICE.date_of_birth


async def test_a_doctor_signs_up_with_a_profile(platform) -> None:
    user = await platform.sign_up(DOCTOR_CHANTHA, Role.DOCTOR)
    profile = platform.table("doctor_profiles")[user.id]
    assert (profile.specialty, profile.licence_number) == (
        DOCTOR_CHANTHA.specialty,
        DOCTOR_CHANTHA.licence_number,
    )
    assert user.id not in platform.table("patient_profiles")


async def test_a_taken_address_answers_like_a_new_one_and_emails_its_owner(platform) -> None:
    owner = await platform.active(PATIENT_ALICE)
    before = len(platform.table("users"))
    typed_otherwise = PATIENT_ALICE.email.upper().replace("EXAMPLE.ORG", "Example.org")
    intruder = msgspec.structs.replace(signup_of(PATIENT_BOREY), email=typed_otherwise)
    answer = await platform.run(signup.signup, ANONYMOUS, intruder)
    assert answer.status is AccountStatus.PENDING and answer.user_id != owner.id
    assert answer.user_id not in platform.table("users") and len(platform.table("users")) == before
    unchanged = platform.user(PATIENT_ALICE.email)
    assert unchanged.name == PATIENT_ALICE.name and unchanged.password_hash == owner.password_hash
    [note] = platform.emails("account_exists")
    assert note.to_address == PATIENT_ALICE.email
    assert note.data == {"name": PATIENT_ALICE.name, "signInUrl": "https://app.example.org/sign-in"}
    assert platform.audited()[-1].action == "user.signup_existing"
    assert platform.audited()[-1].resource_id == str(owner.id)


async def test_a_sign_up_for_a_pending_address_takes_it_over_and_revokes_earlier_links(
    platform,
) -> None:
    first = await platform.sign_up(PATIENT_ALICE)
    first_link = link_token(platform.last_email("account_verification"), "verifyUrl")
    platform.clock.advance(60)
    takeover = msgspec.structs.replace(
        signup_of(DOCTOR_CHANTHA, Role.DOCTOR), email=PATIENT_ALICE.email, phone=None
    )
    answer = await platform.run(signup.signup, ANONYMOUS, takeover)
    assert answer.status is AccountStatus.PENDING
    taken = platform.user(PATIENT_ALICE.email)
    assert taken.id == first.id and taken.role is Role.DOCTOR and taken.name == DOCTOR_CHANTHA.name
    assert taken.password_hash != first.password_hash and taken.phone is None
    assert first.id not in platform.table("patient_profiles")
    assert first.id in platform.table("doctor_profiles")
    assert "user.signup_replace" in platform.actions()
    with pytest.raises(signup.InvalidLink):
        await platform.run(signup.verify_email, ANONYMOUS, first_link)
    latest = link_token(platform.last_email("account_verification"), "verifyUrl")
    verified = await platform.run(signup.verify_email, ANONYMOUS, latest)
    assert verified.status is AccountStatus.ACTIVE and verified.user_id == first.id


@pytest.mark.parametrize(
    "changes", [{"password": "short"}, {"email": "not an address"}, {"name": " "}]
)
async def test_a_refused_sign_up_writes_nothing(platform, changes) -> None:
    refused = msgspec.structs.replace(signup_of(PATIENT_ALICE), **changes)
    with pytest.raises(ValidationFailed):
        await platform.run(signup.signup, ANONYMOUS, refused)
    assert platform.table("users") == {} and platform.emails() == [] and platform.audited() == []


async def test_sign_up_mails_to_one_address_are_capped(platform) -> None:
    for _ in range(LOGIN_CODE_LIMIT):
        await platform.run(signup.signup, ANONYMOUS, signup_of(PATIENT_ALICE))
    with pytest.raises(TooManyAttempts):
        await platform.run(signup.signup, ANONYMOUS, signup_of(PATIENT_ALICE))
    assert len(platform.emails("account_verification")) == LOGIN_CODE_LIMIT


# -- verification --------------------------------------------------------------------------


async def test_the_link_activates_the_account_once_and_welcomes_it(platform) -> None:
    user = await platform.sign_up(PATIENT_ALICE)
    token = link_token(platform.last_email("account_verification"), "verifyUrl")
    verified = await platform.run(signup.verify_email, ANONYMOUS, token)
    assert (verified.user_id, verified.status) == (user.id, AccountStatus.ACTIVE)
    active = platform.user(PATIENT_ALICE.email)
    assert (
        active.status is AccountStatus.ACTIVE and active.email_verified_at == platform.clock.now()
    )
    [welcome] = platform.emails("welcome")
    assert welcome.data == {"name": PATIENT_ALICE.name}
    verify_event = platform.audited()[-1]
    assert verify_event.action == "user.verify_email"
    with pytest.raises(signup.InvalidLink):  # single use
        await platform.run(signup.verify_email, ANONYMOUS, token)
    assert len(platform.emails("welcome")) == 1


async def test_a_link_expires_after_a_day_and_an_unknown_one_opens_nothing(platform) -> None:
    await platform.sign_up(PATIENT_ALICE)
    token = link_token(platform.last_email("account_verification"), "verifyUrl")
    with pytest.raises(signup.InvalidLink):
        await platform.run(signup.verify_email, ANONYMOUS, "a guessed token")
    platform.clock.advance(24 * 3600)
    with pytest.raises(signup.InvalidLink):
        await platform.run(signup.verify_email, ANONYMOUS, token)
    assert platform.user(PATIENT_ALICE.email).status is AccountStatus.PENDING


# -- an operator's admin -------------------------------------------------------------------


async def test_an_admin_without_a_password_gets_a_one_time_link(platform) -> None:
    created = await platform.run(
        signup.create_admin, ANONYMOUS, ADMIN_EANG.email, ADMIN_EANG.name, None
    )
    admin = platform.table("users")[created.user_id]
    assert admin.role is Role.ADMIN and admin.status is AccountStatus.ACTIVE
    assert admin.password_hash is None and created.reset_link is not None
    assert created.reset_link.startswith("https://app.example.org/reset-password?token=")
    assert platform.emails() == []  # the operator hands the link over: nothing is mailed
    with pytest.raises(Conflict):
        await platform.run(signup.create_admin, ANONYMOUS, ADMIN_EANG.email, ADMIN_EANG.name, None)
