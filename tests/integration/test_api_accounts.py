"""Sign-up, e-mail verification, password sign-in, sessions and password reset, through the app."""

from __future__ import annotations

import threading
import time
from email import policy
from email.parser import BytesParser

import jwt
import msgspec
import psycopg
import pytest
from argon2 import PasswordHasher

from domain.adapters.notifications.mailers import outbox_file_name
from domain.rate_limits import LOGIN_CODE_LIMIT
from domain.settings import Settings
from tests.conftest import TEST_JWT_SECRET
from tests.support.accounts import (
    AUTH,
    activate,
    audit_actions,
    bearer_of,
    emails,
    execute,
    last_email,
    log_in,
    rows,
    sign_up,
    signup_body,
    token_in,
)
from tests.support.api import api_client, assert_problem, client_addresses, job_rows
from tests.support.handlers import send_email
from tests.support.people import (
    DOCTOR_CHANTHA,
    PATIENT_ALICE,
    PATIENT_BOREY,
    PEOPLE,
    Person,
    phi_markers,
)
from tests.support.rows import audit_events


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # These tests make more credential calls than one address may in a minute.
    return msgspec.structs.replace(
        settings, rate_limit_auth_per_minute=10_000, public_app_url="https://app.example.org/"
    )


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


def login_body(person=PATIENT_ALICE, password: str | None = None) -> dict[str, str]:
    return {"email": person.email, "password": password or person.password}


def assert_no_phi_in_jobs(database_url: str) -> None:
    markers = phi_markers() | {person.email for person in PEOPLE}
    for job in job_rows(database_url):
        assert set(job["payload"]) == {"emailId"}
        text = msgspec.json.encode(job["payload"]).decode()
        assert not any(marker in text for marker in markers)


# -- sign-up and verification --------------------------------------------------------------


async def test_the_whole_journey(api, settings) -> None:
    db = settings.database_url
    signed = await sign_up(api, PATIENT_ALICE)
    assert signed.status_code == 201, signed.text
    assert signed.json()["status"] == "pending"
    user_id = signed.json()["userId"]
    [user] = rows(db, "SELECT * FROM users")
    assert str(user["id"]) == user_id and user["status"] == "pending"
    assert user["password_hash"].startswith("$argon2id$")
    assert PATIENT_ALICE.phone.encode() not in bytes(user["phone_sealed"])
    [profile] = rows(db, "SELECT * FROM patient_profiles")
    assert profile["date_of_birth_sealed"] is not None

    # the verification e-mail, its job owned by the new user, with no PHI in the payload
    data = last_email(db, "account_verification", PATIENT_ALICE.email)
    assert data["name"] == PATIENT_ALICE.name and data["expiresInHours"] == 24
    assert data["verifyUrl"].startswith("https://app.example.org/verify-email?token=")
    [job] = job_rows(db)
    assert job["owner_id"] == user_id

    pending = await api.post(f"{AUTH}/login", json=login_body())
    assert assert_problem(pending, 403)["code"] == "email_not_verified"

    verified = await api.post(f"{AUTH}/verify-email", json={"token": token_in(data["verifyUrl"])})
    assert verified.status_code == 200, verified.text
    assert verified.json() == {"userId": user_id, "status": "active"}
    assert last_email(db, "welcome", PATIENT_ALICE.email) == {"name": PATIENT_ALICE.name}

    session = await log_in(api, PATIENT_ALICE)
    assert session["mfaRequired"] is False and session["tokenType"] == "Bearer"
    assert session["expiresIn"] == settings.access_token_ttl_seconds
    claims = jwt.decode(session["accessToken"], TEST_JWT_SECRET, algorithms=["HS256"])
    assert claims["sub"] == user_id and claims["role"] == "patient" and "scope" not in claims
    assert 0 < claims["exp"] - time.time() <= settings.access_token_ttl_seconds

    me = await api.get("/api/v1/me", headers=bearer_of(session))
    assert me.status_code == 200, me.text
    assert me.json()["phone"] == PATIENT_ALICE.phone
    assert me.json()["dateOfBirth"] == PATIENT_ALICE.date_of_birth

    refreshed = await api.post(f"{AUTH}/refresh", json={"refreshToken": session["refreshToken"]})
    assert refreshed.status_code == 200, refreshed.text
    renewed = refreshed.json()
    assert renewed["refreshToken"] != session["refreshToken"]
    assert refreshed.headers["cache-control"] == "no-store"

    out = await api.post(
        f"{AUTH}/logout", json={"refreshToken": renewed["refreshToken"]}, headers=bearer_of(renewed)
    )
    assert out.status_code == 204, out.text
    after = await api.post(f"{AUTH}/refresh", json={"refreshToken": renewed["refreshToken"]})
    assert assert_problem(after, 401)["code"] == "invalid_refresh_token"

    actions = audit_actions(db)
    for action in ("user.signup", "user.verify_email", "auth.login", "auth.refresh", "auth.logout"):
        assert actions[action] == 1, actions
    [signup_event] = audit_events(db, "user.signup", outcome=None)
    assert signup_event["actor_id"] == user_id and signup_event["resource_id"] == user_id
    assert "phone" in signup_event["changed_fields"]
    assert_no_phi_in_jobs(db)


async def test_the_verification_email_reaches_the_outbox(api, settings, services) -> None:
    await sign_up(api, PATIENT_BOREY)
    [row] = job_rows(settings.database_url)
    job = await services.store.get(row["id"])
    assert job is not None
    result = await send_email(job, services)  # the worker's handler, run in-process
    path = settings.outbox_dir / outbox_file_name(result["messageId"])
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert message["To"] == PATIENT_BOREY.email
    text = message.get_body(("plain",)).get_content()
    verify_url = next(line.strip() for line in text.splitlines() if "verify-email?token=" in line)
    verified = await api.post(f"{AUTH}/verify-email", json={"token": token_in(verify_url)})
    assert verified.status_code == 200, verified.text


async def test_a_doctor_signs_up_with_a_profile(api, settings) -> None:
    user_id = await activate(api, settings.database_url, DOCTOR_CHANTHA, "doctor")
    [profile] = rows(settings.database_url, "SELECT * FROM doctor_profiles")
    assert str(profile["user_id"]) == user_id
    assert profile["licence_number"] == DOCTOR_CHANTHA.licence_number
    assert profile["consultation_fee_cents"] == 2500
    me = await api.get("/api/v1/me", headers=bearer_of(await log_in(api, DOCTOR_CHANTHA)))
    assert me.json()["doctor"]["specialty"] == DOCTOR_CHANTHA.specialty
    assert me.json()["role"] == "doctor"


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"role": "admin"}, 400, None),
        ({"password": "too short"}, 422, "password"),
        ({"password": PATIENT_ALICE.email}, 422, "password"),
        ({"email": "not-an-address"}, 422, "email"),
        ({"phone": "12345"}, 422, "phone"),
        ({"dateOfBirth": "2999-01-01"}, 422, "dateOfBirth"),
        ({"dateOfBirth": "not a date"}, 400, None),
        ({"isAdmin": True}, 400, None),
        ({"name": ""}, 422, "name"),
    ],
)
async def test_bad_signups_are_refused_and_write_nothing(api, settings, change, status, field):
    response = await api.post(f"{AUTH}/signup", json=signup_body(PATIENT_ALICE) | change)
    problem = assert_problem(response, status)
    if field:
        assert problem["errors"][0]["field"] == field
    assert PATIENT_ALICE.password not in response.text
    assert rows(settings.database_url, "SELECT id FROM users") == []
    assert job_rows(settings.database_url) == []


async def test_a_negative_fee_is_refused(api, settings) -> None:
    body = signup_body(DOCTOR_CHANTHA, "doctor") | {"consultationFeeCents": -1}
    problem = assert_problem(await api.post(f"{AUTH}/signup", json=body), 422)
    assert problem["errors"][0]["field"] == "consultationFeeCents"


async def test_a_taken_address_answers_like_a_new_one(api, settings) -> None:
    db = settings.database_url
    await activate(api, db, PATIENT_ALICE)
    [user] = rows(db, "SELECT id FROM users")
    again = await sign_up(api, PATIENT_ALICE)
    assert again.status_code == 201
    assert again.json()["status"] == "pending"
    assert len(rows(db, "SELECT id FROM users")) == 1
    notice = last_email(db, "account_exists", PATIENT_ALICE.email)
    assert notice["signInUrl"] == "https://app.example.org/sign-in"
    [event] = audit_events(db, "user.signup_existing", outcome=None)
    assert event["actor_id"] is None and event["resource_id"] == str(user["id"])
    shouted = signup_body(PATIENT_ALICE) | {"email": PATIENT_ALICE.email.upper()}
    assert (await api.post(f"{AUTH}/signup", json=shouted)).status_code == 201
    assert len(rows(db, "SELECT id FROM users")) == 1


async def test_signing_up_again_while_pending_resends_the_link(api, settings) -> None:
    db = settings.database_url
    await sign_up(api, PATIENT_ALICE)
    first = last_email(db, "account_verification", PATIENT_ALICE.email)["verifyUrl"]
    await sign_up(api, PATIENT_ALICE)
    second = last_email(db, "account_verification", PATIENT_ALICE.email)["verifyUrl"]
    assert first != second
    stale = await api.post(f"{AUTH}/verify-email", json={"token": token_in(first)})
    assert_problem(stale, 401)
    fresh = await api.post(f"{AUTH}/verify-email", json={"token": token_in(second)})
    assert fresh.status_code == 200


# -- a sign-up for an address whose account is still pending -----------------------------

ATTACKER_PASSWORD = "attacker chosen password 99"


def attacker_body(victim: Person) -> dict[str, object]:
    """Someone else's sign-up with ``victim``'s address: a doctor, with their own password."""
    return signup_body(DOCTOR_CHANTHA, "doctor") | {
        "email": victim.email,
        "password": ATTACKER_PASSWORD,
        "name": "Someone Else",
    }


def answer_shape(response) -> tuple[int, set[str], str]:
    return response.status_code, set(response.json()), response.json()["status"]


async def test_an_address_gets_five_sign_up_mails_an_hour(api, settings) -> None:
    peers = client_addresses()
    answers = [
        await api.post(f"{AUTH}/signup", json=signup_body(PATIENT_ALICE), headers=next(peers))
        for _ in range(LOGIN_CODE_LIMIT + 1)
    ]
    assert [a.status_code for a in answers] == [201] * LOGIN_CODE_LIMIT + [429]
    assert assert_problem(answers[-1], 429)["code"] == "rate_limited"
    sent = emails(settings.database_url, "account_verification", PATIENT_ALICE.email)
    assert len(sent) == LOGIN_CODE_LIMIT


async def test_a_later_signup_takes_over_a_pending_account(api, settings) -> None:
    """Pre-hijacking: an account made first with the victim's address must not become theirs
    with the first sign-up's password, role or profile when they sign up and verify."""
    db = settings.database_url
    first = await api.post(f"{AUTH}/signup", json=attacker_body(PATIENT_ALICE))
    account_id = first.json()["userId"]
    earlier_link = last_email(db, "account_verification", PATIENT_ALICE.email)["verifyUrl"]

    second = await sign_up(api, PATIENT_ALICE)
    assert answer_shape(second) == answer_shape(first) == (201, {"userId", "status"}, "pending")
    assert second.json()["userId"] != account_id  # as for any taken address: names no account

    stale = await api.post(f"{AUTH}/verify-email", json={"token": token_in(earlier_link)})
    assert assert_problem(stale, 401)["code"] == "invalid_link"
    data = last_email(db, "account_verification", PATIENT_ALICE.email)
    assert data["name"] == PATIENT_ALICE.name
    verified = await api.post(f"{AUTH}/verify-email", json={"token": token_in(data["verifyUrl"])})
    assert verified.json() == {"userId": account_id, "status": "active"}

    refused = await api.post(
        f"{AUTH}/login", json={"email": PATIENT_ALICE.email, "password": ATTACKER_PASSWORD}
    )
    assert assert_problem(refused, 401)["code"] == "invalid_credentials"
    session = await log_in(api, PATIENT_ALICE)
    assert session["role"] == "patient"
    me = (await api.get("/api/v1/me", headers=bearer_of(session))).json()
    assert (me["name"], me["role"], me["doctor"]) == (PATIENT_ALICE.name, "patient", None)
    assert (me["phone"], me["dateOfBirth"]) == (PATIENT_ALICE.phone, PATIENT_ALICE.date_of_birth)
    assert rows(db, "SELECT * FROM doctor_profiles") == []
    assert len(rows(db, "SELECT * FROM patient_profiles")) == 1

    [event] = audit_events(db, "user.signup_replace", outcome=None)
    assert event["resource_id"] == account_id and event["actor_id"] == account_id
    assert event["actor_role"] == "patient"
    assert {"password", "name", "role", "phone", "licence_number"} <= set(event["changed_fields"])
    text = msgspec.json.encode({k: str(v) for k, v in event.items()}).decode()
    markers = phi_markers() | {PATIENT_ALICE.email, ATTACKER_PASSWORD, "Someone Else"}
    assert not any(marker in text for marker in markers)
    assert audit_actions(db)["user.signup_existing"] == 0
    assert_no_phi_in_jobs(db)


async def test_the_answers_to_a_new_pending_and_active_address_look_alike(api, settings) -> None:
    db = settings.database_url
    new = await sign_up(api, PATIENT_BOREY)
    pending = await api.post(f"{AUTH}/signup", json=attacker_body(PATIENT_BOREY))
    await activate(api, db, PATIENT_ALICE)
    active = await api.post(f"{AUTH}/signup", json=attacker_body(PATIENT_ALICE))
    assert answer_shape(new) == answer_shape(pending) == answer_shape(active)
    account_ids = {str(row["id"]) for row in rows(db, "SELECT id FROM users")}
    assert pending.json()["userId"] not in account_ids
    assert active.json()["userId"] not in account_ids


async def test_a_takeover_revokes_the_pending_accounts_reset_link(api, settings) -> None:
    db = settings.database_url
    await sign_up(api, PATIENT_ALICE)
    await api.post(f"{AUTH}/password-reset/request", json={"email": PATIENT_ALICE.email})
    reset_token = token_in(last_email(db, "password_reset", PATIENT_ALICE.email)["resetUrl"])
    await api.post(f"{AUTH}/signup", json=attacker_body(PATIENT_ALICE))
    body = {"token": reset_token, "password": "a brand new passphrase 42"}
    confirmed = await api.post(f"{AUTH}/password-reset/confirm", json=body)
    assert assert_problem(confirmed, 401)["code"] == "invalid_link"
    live = rows(db, "SELECT purpose FROM one_time_secrets WHERE used_at IS NULL")
    assert live == [{"purpose": "email_verification"}]  # only the latest sign-up's link


def _activate_once_someone_waits(conn: psycopg.Connection, database_url: str) -> None:
    """Finish what ``conn`` began as verify_email does, once another session waits on a lock."""
    deadline = time.monotonic() + 10
    waiting = "SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
    waiting += " AND wait_event_type = 'Lock'"
    while not rows(database_url, waiting):
        assert time.monotonic() < deadline, "the sign-up never waited for the link being used"
        time.sleep(0.02)
    conn.execute("UPDATE users SET status = 'active', email_verified_at = now()")
    conn.commit()


async def test_a_signup_racing_a_verification_leaves_the_verified_account_alone(
    api, settings
) -> None:
    db = settings.database_url
    await sign_up(api, PATIENT_ALICE)
    with psycopg.connect(db) as link_use:
        # verify_email's first step, in a transaction held open: the link is used up
        link_use.execute("UPDATE one_time_secrets SET used_at = now() WHERE used_at IS NULL")
        finish = threading.Thread(target=_activate_once_someone_waits, args=(link_use, db))
        finish.start()
        raced = await api.post(f"{AUTH}/signup", json=attacker_body(PATIENT_ALICE))
        finish.join()
    assert raced.status_code == 201, raced.text
    assert len(emails(db, "account_verification", PATIENT_ALICE.email)) == 1
    assert last_email(db, "account_exists", PATIENT_ALICE.email)["name"] == PATIENT_ALICE.name
    assert (await log_in(api, PATIENT_ALICE))["role"] == "patient"
    refused = await api.post(
        f"{AUTH}/login", json={"email": PATIENT_ALICE.email, "password": ATTACKER_PASSWORD}
    )
    assert_problem(refused, 401)
    actions = audit_actions(db)
    assert actions["user.signup_existing"] == 1 and actions["user.signup_replace"] == 0


async def test_verification_links_are_single_use_and_expire(api, settings) -> None:
    db = settings.database_url
    await sign_up(api, PATIENT_ALICE)
    token = token_in(last_email(db, "account_verification", PATIENT_ALICE.email)["verifyUrl"])
    execute(db, "UPDATE one_time_secrets SET expires_at = now() - interval '1 second'")
    expired = await api.post(f"{AUTH}/verify-email", json={"token": token})
    assert assert_problem(expired, 401)["code"] == "invalid_link"
    execute(db, "UPDATE one_time_secrets SET expires_at = now() + interval '1 hour'")
    assert (await api.post(f"{AUTH}/verify-email", json={"token": token})).status_code == 200
    again = await api.post(f"{AUTH}/verify-email", json={"token": token})
    assert_problem(again, 401)
    unknown = await api.post(f"{AUTH}/verify-email", json={"token": "no-such-token"})
    assert_problem(unknown, 401)
    assert audit_actions(db)["user.verify_email"] == 1


# -- password sign-in ----------------------------------------------------------------------


async def test_unknown_email_and_wrong_password_get_the_same_answer(api, settings) -> None:
    await activate(api, settings.database_url, PATIENT_ALICE)
    answers, durations = [], []
    for body in (
        login_body(password="wrong password, long enough"),
        login_body(PATIENT_BOREY),  # no such account
        {"email": "not an address", "password": "whatever it is"},
    ):
        started = time.perf_counter()
        response = await api.post(f"{AUTH}/login", json=body)
        durations.append(time.perf_counter() - started)
        problem = assert_problem(response, 401)
        answers.append((problem["code"], problem["detail"], response.headers["www-authenticate"]))
    assert len(set(answers)) == 1
    assert answers[0][0] == "invalid_credentials"
    # The unknown address verifies a dummy hash: not several times faster than a real check.
    assert min(durations) > max(durations) / 4


async def test_logout_everywhere_ends_every_session(api, settings) -> None:
    await activate(api, settings.database_url, PATIENT_ALICE)
    first, second = await log_in(api, PATIENT_ALICE), await log_in(api, PATIENT_ALICE)
    out = await api.post(f"{AUTH}/logout", json={"everywhere": True}, headers=bearer_of(first))
    assert out.status_code == 204
    for session in (first, second):
        response = await api.post(f"{AUTH}/refresh", json={"refreshToken": session["refreshToken"]})
        assert_problem(response, 401)


async def test_logout_ignores_someone_elses_refresh_token(api, settings) -> None:
    await activate(api, settings.database_url, PATIENT_ALICE)
    await activate(api, settings.database_url, PATIENT_BOREY)
    alice, borey = await log_in(api, PATIENT_ALICE), await log_in(api, PATIENT_BOREY)
    out = await api.post(
        f"{AUTH}/logout", json={"refreshToken": borey["refreshToken"]}, headers=bearer_of(alice)
    )
    assert out.status_code == 204
    still = await api.post(f"{AUTH}/refresh", json={"refreshToken": borey["refreshToken"]})
    assert still.status_code == 200


async def test_logout_needs_a_token_and_says_what_to_end(api, settings) -> None:
    assert_problem(await api.post(f"{AUTH}/logout", json={}), 401)
    await activate(api, settings.database_url, PATIENT_ALICE)
    headers = bearer_of(await log_in(api, PATIENT_ALICE))
    assert_problem(await api.post(f"{AUTH}/logout", json={}, headers=headers), 422)


async def test_a_reused_refresh_token_revokes_the_whole_family(api, settings) -> None:
    db = settings.database_url
    await activate(api, db, PATIENT_ALICE)
    session = await log_in(api, PATIENT_ALICE)
    stolen = session["refreshToken"]
    owner = (await api.post(f"{AUTH}/refresh", json={"refreshToken": stolen})).json()

    thief = await api.post(f"{AUTH}/refresh", json={"refreshToken": stolen})
    assert assert_problem(thief, 401)["code"] == "invalid_refresh_token"
    # the owner's current token died with the family
    owners_next = await api.post(f"{AUTH}/refresh", json={"refreshToken": owner["refreshToken"]})
    assert_problem(owners_next, 401)
    reasons = {row["revoked_reason"] for row in rows(db, "SELECT * FROM refresh_tokens")}
    assert reasons == {"reuse_detected"}
    # another session (another family) is untouched
    other = await log_in(api, PATIENT_ALICE)
    assert (
        await api.post(f"{AUTH}/refresh", json={"refreshToken": other["refreshToken"]})
    ).status_code == 200


async def test_an_expired_refresh_token_is_refused(api, settings) -> None:
    await activate(api, settings.database_url, PATIENT_ALICE)
    session = await log_in(api, PATIENT_ALICE)
    execute(settings.database_url, "UPDATE refresh_tokens SET expires_at = now()")
    response = await api.post(f"{AUTH}/refresh", json={"refreshToken": session["refreshToken"]})
    assert_problem(response, 401)


async def test_a_disabled_account_cannot_sign_in_or_refresh(api, settings) -> None:
    db = settings.database_url
    await activate(api, db, PATIENT_ALICE)
    session = await log_in(api, PATIENT_ALICE)
    execute(db, "UPDATE users SET status = 'disabled'")
    refused = await api.post(f"{AUTH}/login", json=login_body())
    assert assert_problem(refused, 403)["code"] == "account_disabled"
    response = await api.post(f"{AUTH}/refresh", json={"refreshToken": session["refreshToken"]})
    assert_problem(response, 401)


# -- password reset ------------------------------------------------------------------------


async def test_a_password_reset_is_single_use_and_ends_sessions(api, settings) -> None:
    db = settings.database_url
    await activate(api, db, PATIENT_ALICE)
    session = await log_in(api, PATIENT_ALICE)
    asked = await api.post(
        f"{AUTH}/password-reset/request", json={"email": PATIENT_ALICE.email.upper()}
    )
    assert asked.status_code == 202
    data = last_email(db, "password_reset", PATIENT_ALICE.email)
    assert data["expiresInMinutes"] == 30 and data["name"] == PATIENT_ALICE.name
    assert data["resetUrl"].startswith("https://app.example.org/reset-password?token=")
    token = token_in(data["resetUrl"])

    weak = await api.post(
        f"{AUTH}/password-reset/confirm", json={"token": token, "password": "short"}
    )
    assert assert_problem(weak, 422)["errors"][0]["field"] == "password"
    new_password = "a brand new passphrase 42"
    done = await api.post(
        f"{AUTH}/password-reset/confirm", json={"token": token, "password": new_password}
    )
    assert done.status_code == 204, done.text
    again = await api.post(
        f"{AUTH}/password-reset/confirm", json={"token": token, "password": new_password + "!"}
    )
    assert assert_problem(again, 401)["code"] == "invalid_link"

    old_session = await api.post(f"{AUTH}/refresh", json={"refreshToken": session["refreshToken"]})
    assert_problem(old_session, 401)
    assert_problem(await api.post(f"{AUTH}/login", json=login_body()), 401)
    relogged = await api.post(
        f"{AUTH}/login", json={"email": PATIENT_ALICE.email, "password": new_password}
    )
    assert relogged.status_code == 200
    actions = audit_actions(db)
    assert actions["auth.password_reset_request"] == 1 and actions["auth.password_reset"] == 1


async def test_a_reset_link_expires(api, settings) -> None:
    db = settings.database_url
    await activate(api, db, PATIENT_ALICE)
    await api.post(f"{AUTH}/password-reset/request", json={"email": PATIENT_ALICE.email})
    token = token_in(last_email(db, "password_reset", PATIENT_ALICE.email)["resetUrl"])
    execute(
        db,
        "UPDATE one_time_secrets SET expires_at = now() - interval '1 second'"
        " WHERE purpose = 'password_reset'",
    )
    response = await api.post(
        f"{AUTH}/password-reset/confirm", json={"token": token, "password": "x" * 20}
    )
    assert_problem(response, 401)
    assert (await log_in(api, PATIENT_ALICE))["mfaRequired"] is False


async def test_a_newer_reset_link_replaces_the_older(api, settings) -> None:
    db = settings.database_url
    await activate(api, db, PATIENT_ALICE)
    for _ in range(2):
        await api.post(f"{AUTH}/password-reset/request", json={"email": PATIENT_ALICE.email})
    first, second = (
        token_in(d["resetUrl"]) for d in emails(db, "password_reset", PATIENT_ALICE.email)
    )
    body = {"password": "another good passphrase"}
    assert_problem(
        await api.post(f"{AUTH}/password-reset/confirm", json=body | {"token": first}), 401
    )
    ok = await api.post(f"{AUTH}/password-reset/confirm", json=body | {"token": second})
    assert ok.status_code == 204


@pytest.mark.parametrize("email", [PATIENT_BOREY.email, "not an address", ""])
async def test_a_reset_request_reveals_nothing(api, settings, email) -> None:
    await activate(api, settings.database_url, PATIENT_ALICE)
    response = await api.post(f"{AUTH}/password-reset/request", json={"email": email})
    if email:
        assert response.status_code == 202
        assert response.json() == {
            "message": "if an active account uses this address, an e-mail is on its way"
        }
    else:
        assert_problem(response, 400)  # an empty field is malformed, whoever asks
    assert emails(settings.database_url, "password_reset", PATIENT_ALICE.email) == []


async def test_a_reset_verifies_a_pending_account(api, settings) -> None:
    db = settings.database_url
    await sign_up(api, PATIENT_ALICE)
    await api.post(f"{AUTH}/password-reset/request", json={"email": PATIENT_ALICE.email})
    token = token_in(last_email(db, "password_reset", PATIENT_ALICE.email)["resetUrl"])
    body = {"token": token, "password": "a brand new passphrase 42"}
    assert (await api.post(f"{AUTH}/password-reset/confirm", json=body)).status_code == 204
    [user] = rows(db, "SELECT status, email_verified_at FROM users")
    assert user["status"] == "active" and user["email_verified_at"] is not None


# -- the caller's own account --------------------------------------------------------------


async def test_updating_my_name_and_phone(api, settings) -> None:
    db = settings.database_url
    await activate(api, db, PATIENT_ALICE)
    headers = bearer_of(await log_in(api, PATIENT_ALICE))
    changed = await api.patch(
        "/api/v1/me", json={"name": "Alice S.", "phone": "+855 11 222 333"}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Alice S." and changed.json()["phone"] == "+85511222333"
    cleared = await api.patch("/api/v1/me", json={"phone": None}, headers=headers)
    assert cleared.json()["phone"] is None
    assert_problem(await api.patch("/api/v1/me", json={}, headers=headers), 422)
    assert_problem(await api.patch("/api/v1/me", json={"phone": "123"}, headers=headers), 422)
    assert_problem(await api.patch("/api/v1/me", json={"email": "x@y.org"}, headers=headers), 400)
    events = audit_events(db, "user.update", outcome=None)
    assert [event["changed_fields"] for event in events] == [["name", "phone"], ["phone"]]


async def test_a_weak_hash_is_upgraded_at_sign_in(api, settings) -> None:
    db = settings.database_url
    await activate(api, db, PATIENT_ALICE)
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(
        PATIENT_ALICE.password
    )
    execute(db, "UPDATE users SET password_hash = %s", (weak,))
    await log_in(api, PATIENT_ALICE)
    [user] = rows(db, "SELECT password_hash FROM users")
    assert user["password_hash"] != weak
    assert not PasswordHasher().check_needs_rehash(user["password_hash"])
    await log_in(api, PATIENT_ALICE)
