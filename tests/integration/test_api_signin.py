"""Sign-in by e-mailed code, TOTP two-factor sign-in and recovery codes, admins' enrolment."""

from __future__ import annotations

import jwt
import msgspec
import pytest

from api.operator_cli import OPERATOR
from domain.errors import Unauthorized
from domain.login import login_with_code, request_login_code
from domain.settings import Settings
from domain.signup import create_admin
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
    totp_code,
    totp_code_at,
)
from tests.support.api import api_client, assert_problem, job_rows
from tests.support.people import ADMIN_EANG, DOCTOR_CHANTHA, PATIENT_ALICE, PATIENT_BOREY


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, rate_limit_auth_per_minute=10_000)


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


async def request_code(api, person=PATIENT_ALICE) -> None:
    response = await api.post(f"{AUTH}/code/request", json={"email": person.email})
    assert response.status_code == 202, response.text


async def verify_code(api, code: str, person=PATIENT_ALICE):
    return await api.post(f"{AUTH}/code/verify", json={"email": person.email, "code": code})


def sent_code(settings: Settings, person=PATIENT_ALICE) -> str:
    data = last_email(settings.database_url, "one_time_code", person.email)
    assert data["expiresInMinutes"] == 5
    return data["code"]


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# -- e-mailed codes ------------------------------------------------------------------------


async def test_sign_in_with_an_emailed_code(api, settings) -> None:
    user_id = await activate(api, settings.database_url, PATIENT_ALICE)
    await request_code(api)
    code = sent_code(settings)
    assert len(code) == 6 and code.isdigit()
    signed = await verify_code(api, code)
    assert signed.status_code == 200, signed.text
    assert signed.json()["userId"] == user_id and signed.json()["refreshToken"]
    assert_problem(await verify_code(api, code), 401)  # single use
    # the code travels in email_messages only, never in a job
    assert not any(code in str(job["payload"]) for job in job_rows(settings.database_url))
    actions = audit_actions(settings.database_url)
    assert actions["auth.login_code_request"] == 1 and actions["auth.login"] == 1


async def test_a_code_dies_after_five_wrong_tries(api, settings) -> None:
    await activate(api, settings.database_url, PATIENT_ALICE)
    await request_code(api)
    code = sent_code(settings)
    for _ in range(5):
        problem = assert_problem(await verify_code(api, wrong(code)), 401)
        assert problem["code"] == "invalid_credentials"
    [secret] = rows(
        settings.database_url, "SELECT * FROM one_time_secrets WHERE purpose = 'login_code'"
    )
    assert secret["attempts"] == 5
    assert_problem(await verify_code(api, code), 401)
    # a new code works again, and replaced the old one
    await request_code(api)
    assert (await verify_code(api, sent_code(settings))).status_code == 200


async def test_a_newer_code_replaces_the_older(api, settings) -> None:
    await activate(api, settings.database_url, PATIENT_ALICE)
    await request_code(api)
    first = sent_code(settings)
    await request_code(api)
    second = sent_code(settings)
    if first != second:
        assert_problem(await verify_code(api, first), 401)
    assert (await verify_code(api, second)).status_code == 200


async def test_a_code_expires_after_five_minutes(clocked_services, clock, settings) -> None:
    async with api_client(settings) as api:
        await activate(api, settings.database_url, PATIENT_ALICE)
    await request_login_code(clocked_services, PATIENT_ALICE.email, OPERATOR)
    code = sent_code(settings)
    clock.advance(5 * 60 + 1)
    with pytest.raises(Unauthorized):
        await login_with_code(clocked_services, PATIENT_ALICE.email, code, OPERATOR)
    await request_login_code(clocked_services, PATIENT_ALICE.email, OPERATOR)
    clock.advance(4 * 60)
    await login_with_code(clocked_services, PATIENT_ALICE.email, sent_code(settings), OPERATOR)


@pytest.mark.parametrize("email", [PATIENT_BOREY.email, "nobody"])
async def test_codes_reveal_no_accounts(api, settings, email) -> None:
    await activate(api, settings.database_url, PATIENT_ALICE)
    response = await api.post(f"{AUTH}/code/request", json={"email": email})
    assert response.status_code == 202
    assert emails(settings.database_url, "one_time_code", email) == []
    refused = await api.post(f"{AUTH}/code/verify", json={"email": email, "code": "123456"})
    assert assert_problem(refused, 401)["code"] == "invalid_credentials"


async def test_a_pending_account_gets_no_code(api, settings) -> None:
    await api.post(
        f"{AUTH}/signup",
        json={
            "role": "patient",
            "email": PATIENT_BOREY.email,
            "password": PATIENT_BOREY.password,
            "name": PATIENT_BOREY.name,
        },
    )
    await request_code(api, PATIENT_BOREY)
    assert emails(settings.database_url, "one_time_code", PATIENT_BOREY.email) == []


# -- TOTP ----------------------------------------------------------------------------------


async def enrol(api, headers: dict[str, str]) -> tuple[str, list[str]]:
    setup = await api.post(f"{AUTH}/totp/setup", headers=headers)
    assert setup.status_code == 200, setup.text
    body = setup.json()
    assert body["provisioningUri"].startswith("otpauth://totp/")
    assert body["qrCode"].startswith("data:image/svg+xml")
    secret = body["secret"]
    enabled = await api.post(
        f"{AUTH}/totp/enable", json={"code": totp_code(secret)}, headers=headers
    )
    assert enabled.status_code == 200, enabled.text
    return secret, enabled.json()["recoveryCodes"]


def forget_last_step(settings: Settings) -> None:
    """As if a few minutes had passed: the next current code is new again."""
    execute(settings.database_url, "UPDATE users SET totp_last_step = totp_last_step - 10")


async def mfa(api, token: str, **factor: str):
    return await api.post(f"{AUTH}/mfa", json={"mfaToken": token, **factor})


async def test_totp_enrolment_and_the_second_step(api, settings) -> None:
    db = settings.database_url
    await activate(api, db, DOCTOR_CHANTHA, "doctor")
    headers = bearer_of(await log_in(api, DOCTOR_CHANTHA))
    setup = (await api.post(f"{AUTH}/totp/setup", headers=headers)).json()
    bad = await api.post(
        f"{AUTH}/totp/enable", json={"code": wrong(totp_code(setup["secret"]))}, headers=headers
    )
    assert assert_problem(bad, 422)["errors"][0]["field"] == "code"
    secret, recovery = await enrol(api, headers)  # a new setup replaces the unconfirmed one
    assert len(recovery) == 10 and len(set(recovery)) == 10
    [user] = rows(db, "SELECT * FROM users")
    assert user["totp_enabled_at"] is not None
    assert secret.encode() not in bytes(user["totp_secret_sealed"])
    assert len(rows(db, "SELECT * FROM recovery_codes WHERE used_at IS NULL")) == 10
    again = await api.post(f"{AUTH}/totp/setup", headers=headers)
    assert_problem(again, 409)

    first = await log_in(api, DOCTOR_CHANTHA)
    assert first["mfaRequired"] is True and "accessToken" not in first
    assert "refreshToken" not in first
    token = first["mfaToken"]
    # the code that enabled TOTP was used: its step cannot sign in
    used = rows(db, "SELECT totp_last_step FROM users")[0]["totp_last_step"]
    reused = await mfa(api, token, code=totp_code_at(secret, used))
    assert assert_problem(reused, 401)["code"] == "invalid_mfa"
    assert_problem(await mfa(api, token, code=totp_code_at(secret, used - 1)), 401)  # older
    assert_problem(await mfa(api, token, code=totp_code_at(secret, used + 3)), 401)  # too far
    assert_problem(await mfa(api, "not-a-challenge", code=totp_code_at(secret, used + 1)), 401)
    done = await mfa(api, token, code=totp_code_at(secret, used + 1))
    assert done.status_code == 200, done.text
    assert done.json()["accessToken"] and done.json()["refreshToken"]
    assert_problem(await mfa(api, token, code=totp_code(secret, 1)), 401)  # challenge used

    actions = audit_actions(db)
    assert actions["auth.totp_setup"] == 2 and actions["auth.totp_enable"] == 1
    assert actions["auth.mfa_challenge"] == 1 and actions["auth.login"] == 2


async def test_an_mfa_challenge_dies_after_five_wrong_codes_or_five_minutes(api, settings) -> None:
    await activate(api, settings.database_url, DOCTOR_CHANTHA, "doctor")
    secret, _ = await enrol(api, bearer_of(await log_in(api, DOCTOR_CHANTHA)))
    token = (await log_in(api, DOCTOR_CHANTHA))["mfaToken"]
    for _ in range(5):
        assert_problem(await mfa(api, token, code=wrong(totp_code(secret, 1))), 401)
    assert_problem(await mfa(api, token, code=totp_code(secret, 1)), 401)

    token = (await log_in(api, DOCTOR_CHANTHA))["mfaToken"]
    execute(
        settings.database_url,
        "UPDATE one_time_secrets SET expires_at = now() WHERE purpose = 'mfa_challenge'",
    )
    assert_problem(await mfa(api, token, code=totp_code(secret, 1)), 401)


async def test_a_recovery_code_works_once(api, settings) -> None:
    db = settings.database_url
    await activate(api, db, DOCTOR_CHANTHA, "doctor")
    _, recovery = await enrol(api, bearer_of(await log_in(api, DOCTOR_CHANTHA)))
    token = (await log_in(api, DOCTOR_CHANTHA))["mfaToken"]
    typed = recovery[0].upper().replace("-", " ")
    done = await mfa(api, token, recoveryCode=typed)
    assert done.status_code == 200, done.text
    token = (await log_in(api, DOCTOR_CHANTHA))["mfaToken"]
    assert_problem(await mfa(api, token, recoveryCode=recovery[0]), 401)
    assert (await mfa(api, token, recoveryCode=recovery[1])).status_code == 200
    assert len(rows(db, "SELECT * FROM recovery_codes WHERE used_at IS NULL")) == 8
    assert audit_actions(db)["auth.recovery_code_used"] == 2
    both = await mfa(api, token, code="123456", recoveryCode=recovery[2])
    assert_problem(both, 422)


async def test_an_emailed_code_also_needs_the_second_step(api, settings) -> None:
    await activate(api, settings.database_url, DOCTOR_CHANTHA, "doctor")
    await enrol(api, bearer_of(await log_in(api, DOCTOR_CHANTHA)))
    await request_code(api, DOCTOR_CHANTHA)
    answer = await verify_code(api, sent_code(settings, DOCTOR_CHANTHA), DOCTOR_CHANTHA)
    assert answer.status_code == 200 and answer.json()["mfaRequired"] is True


async def test_disabling_totp_needs_a_current_code(api, settings) -> None:
    db = settings.database_url
    await activate(api, db, DOCTOR_CHANTHA, "doctor")
    headers = bearer_of(await log_in(api, DOCTOR_CHANTHA))
    secret, _ = await enrol(api, headers)
    refused = await api.post(
        f"{AUTH}/totp/disable", json={"code": wrong(totp_code(secret, 1))}, headers=headers
    )
    assert assert_problem(refused, 403)["code"] == "invalid_totp_code"
    reused = await api.post(
        f"{AUTH}/totp/disable", json={"code": totp_code(secret)}, headers=headers
    )
    assert_problem(reused, 403)
    forget_last_step(settings)
    code = {"code": totp_code(secret)}
    off = await api.post(f"{AUTH}/totp/disable", json=code, headers=headers)
    assert off.status_code == 204, off.text
    assert rows(db, "SELECT * FROM recovery_codes") == []
    assert (await log_in(api, DOCTOR_CHANTHA))["mfaRequired"] is False
    again = await api.post(f"{AUTH}/totp/disable", json={"code": "1"}, headers=headers)
    assert_problem(again, 409)
    assert audit_actions(db)["auth.totp_disable"] == 1


async def test_patients_are_not_offered_totp(api, settings) -> None:
    await activate(api, settings.database_url, PATIENT_ALICE)
    headers = bearer_of(await log_in(api, PATIENT_ALICE))
    assert_problem(await api.post(f"{AUTH}/totp/setup", headers=headers), 403)


# -- admins must use TOTP ------------------------------------------------------------------


async def test_an_admin_without_totp_may_only_enrol(api, settings, services) -> None:
    db = settings.database_url
    created = await create_admin(
        services, ADMIN_EANG.email, ADMIN_EANG.name, ADMIN_EANG.password, OPERATOR
    )
    answer = await log_in(api, ADMIN_EANG)
    assert answer["scope"] == "mfa_enrolment" and "refreshToken" not in answer
    claims = jwt.decode(answer["accessToken"], TEST_JWT_SECRET, algorithms=["HS256"])
    assert claims["scope"] == "mfa_enrolment" and claims["sub"] == str(created.user_id)
    headers = bearer_of(answer)
    for method, path in (("GET", "/api/v1/jobs"), ("GET", "/api/v1/me")):
        refused = await api.request(method, path, headers=headers)
        assert assert_problem(refused, 403)["code"] == "insufficient_scope"
    logout = await api.post(f"{AUTH}/logout", json={"everywhere": True}, headers=headers)
    assert_problem(logout, 403)

    secret, _ = await enrol(api, headers)
    second = await log_in(api, ADMIN_EANG)
    assert second["mfaRequired"] is True
    done = await mfa(api, second["mfaToken"], code=totp_code(secret, 1))
    assert done.status_code == 200 and "scope" not in done.json()
    jobs = await api.get("/api/v1/jobs", headers=bearer_of(done.json()))
    assert jobs.status_code == 200, jobs.text
    actions = audit_actions(db)
    assert actions["user.create_admin"] == 1 and actions["auth.login_enrolment"] == 1
