"""Sign-in by e-mailed code, TOTP two-factor sign-in and recovery codes, admins' enrolment,
the per-account budgets that hold however many client addresses an attacker has, and the
time floor of the requests that may e-mail an account (codes, reset links)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import jwt
import msgspec
import pytest
import redis

from api.operator_cli import OPERATOR
from domain.accounts.emailed_secrets import request_emailed_secret
from domain.accounts.login import LOGIN_CODE, login_with_code, login_with_password
from domain.accounts.password_reset import RESET_LINK
from domain.accounts.sign_in_budget import BudgetUnavailable
from domain.accounts.signup import create_admin
from domain.errors import Unauthorized
from domain.rate_limits import (
    ACCOUNT_FAILURE_LIMIT,
    ACCOUNT_FAILURE_WINDOW_SECONDS,
    LOGIN_CODE_LIMIT,
    LOGIN_CODE_WINDOW_SECONDS,
)
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
    totp_code,
    totp_code_at,
)
from tests.support.api import api_client, assert_problem, client_addresses, job_rows
from tests.support.people import (
    ADMIN_EANG,
    DOCTOR_CHANTHA,
    PATIENT_ALICE,
    PATIENT_BOREY,
    Person,
)
from tests.support.platform import running_services, wired
from tests.support.rows import audit_events
from tests.support.servers import free_port


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # many credential calls from one address; code requests need not wait out their floor
    return msgspec.structs.replace(
        settings, rate_limit_auth_per_minute=10_000, account_email_min_seconds=0.001
    )


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
    cases = wired(clocked_services)
    await cases.run(request_emailed_secret, OPERATOR, LOGIN_CODE, PATIENT_ALICE.email)
    code = sent_code(settings)
    clock.advance(5 * 60 + 1)
    with pytest.raises(Unauthorized):
        await cases.run(login_with_code, OPERATOR, PATIENT_ALICE.email, code)
    await cases.run(request_emailed_secret, OPERATOR, LOGIN_CODE, PATIENT_ALICE.email)
    clock.advance(4 * 60)
    await cases.run(login_with_code, OPERATOR, PATIENT_ALICE.email, sent_code(settings))


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


async def set_up(api, headers: dict[str, str], person: Person = DOCTOR_CHANTHA):
    return await api.post(f"{AUTH}/totp/setup", json={"password": person.password}, headers=headers)


async def enrol(
    api, headers: dict[str, str], person: Person = DOCTOR_CHANTHA
) -> tuple[str, list[str]]:
    setup = await set_up(api, headers, person)
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
    without_password = await api.post(f"{AUTH}/totp/setup", headers=headers)
    assert_problem(without_password, 400)
    wrong_password = await api.post(
        f"{AUTH}/totp/setup", json={"password": "not the password"}, headers=headers
    )
    assert assert_problem(wrong_password, 403)["code"] == "invalid_password"
    setup = (await set_up(api, headers)).json()
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
    again = await set_up(api, headers)
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
    used = rows(db, "SELECT totp_last_step FROM users")[0]["totp_last_step"]  # enrolment's
    reused = await api.post(
        f"{AUTH}/totp/disable", json={"code": totp_code_at(secret, used)}, headers=headers
    )  # the code of that step, whatever step the clock has reached meanwhile
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
    assert_problem(await set_up(api, headers, PATIENT_ALICE), 403)


# -- admins must use TOTP ------------------------------------------------------------------


async def test_an_admin_without_totp_may_only_enrol(api, settings, services) -> None:
    db = settings.database_url
    created = await wired(services).run(
        create_admin, OPERATOR, ADMIN_EANG.email, ADMIN_EANG.name, ADMIN_EANG.password
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

    secret, _ = await enrol(api, headers, ADMIN_EANG)
    second = await log_in(api, ADMIN_EANG)
    assert second["mfaRequired"] is True
    done = await mfa(api, second["mfaToken"], code=totp_code(secret, 1))
    assert done.status_code == 200 and "scope" not in done.json()
    jobs = await api.get("/api/v1/jobs", headers=bearer_of(done.json()))
    assert jobs.status_code == 200, jobs.text
    actions = audit_actions(db)
    assert actions["user.create_admin"] == 1 and actions["auth.login_enrolment"] == 1


# -- per-account budgets, whatever the client address ----------------------------------------


@pytest.fixture
async def spread_api(settings):
    """Two credential calls a minute per client address, and tests send each call from a new
    one: only the per-account budgets can stop them."""
    async with api_client(msgspec.structs.replace(settings, rate_limit_auth_per_minute=2)) as api:
        yield api


def answer_of(response) -> tuple:
    """What a caller learns from an answer, but for the seconds left in a window."""
    body = response.json()
    headers = tuple(response.headers.get(f"ratelimit-{name}") for name in ("limit", "remaining"))
    return response.status_code, body.get("code"), body.get("detail"), body.get("message"), headers


def refused_for(response, window_seconds: int, limit: int) -> None:
    problem = assert_problem(response, 429)
    assert problem["code"] == "rate_limited"
    assert response.headers["ratelimit-limit"] == str(limit)
    assert response.headers["ratelimit-remaining"] == "0"
    assert window_seconds - 60 < int(response.headers["retry-after"]) <= window_seconds
    assert response.headers["retry-after"] == response.headers["ratelimit-reset"]


def rate_refusals(database_url: str) -> list[dict]:
    return [e for e in audit_events(database_url, outcome=None) if e["status_code"] == 429]


@pytest.mark.parametrize(
    ("path", "template", "policy"),
    [
        ("code/request", "one_time_code", "public.login_code_request"),
        ("password-reset/request", "password_reset", "public.password_reset_request"),
    ],
    ids=["sign-in codes", "reset links"],
)
async def test_an_address_gets_five_mails_an_hour_from_any_client_address(
    spread_api, settings, path, template, policy
) -> None:
    db = settings.database_url
    await activate(spread_api, db, PATIENT_ALICE)
    peers = client_addresses()
    transcripts = []
    for person in (PATIENT_ALICE, PATIENT_BOREY):  # Borey has no account
        answers = [
            await spread_api.post(f"{AUTH}/{path}", json={"email": email}, headers=next(peers))
            # the address in any case is one address: the lookup ignores case, so does the cap
            for email in [person.email] * LOGIN_CODE_LIMIT + [person.email.upper()] * 2
        ]
        assert [a.status_code for a in answers] == [202] * LOGIN_CODE_LIMIT + [429, 429]
        for refused in answers[-2:]:
            refused_for(refused, LOGIN_CODE_WINDOW_SECONDS, LOGIN_CODE_LIMIT)
        transcripts.append([answer_of(a) for a in answers])

    assert transcripts[0] == transcripts[1]  # an account or none: the same answers
    assert len(emails(db, template, PATIENT_ALICE.email)) == LOGIN_CODE_LIMIT
    assert emails(db, template, PATIENT_BOREY.email) == []
    # each address's burst of refusals is recorded once: the call that crossed the cap
    assert [(e["action"], e["outcome"]) for e in rate_refusals(db)] == [(policy, "denied")] * 2


async def guesses_then_the_truth(api, peers, person, code: str) -> list:
    """Ten wrong guesses at ``person``'s account (passwords and codes), each from a new client
    address out of ``peers``, then the right password and the right code: the answers."""
    answers = []
    for n in range(ACCOUNT_FAILURE_LIMIT):
        if n % 2:
            body = {"email": person.email, "password": f"wrong password number {n}"}
            answers.append(await api.post(f"{AUTH}/login", json=body, headers=next(peers)))
        else:
            body = {"email": person.email, "code": wrong(code)}
            answers.append(await api.post(f"{AUTH}/code/verify", json=body, headers=next(peers)))
    right = {"email": person.email, "password": person.password}
    answers.append(await api.post(f"{AUTH}/login", json=right, headers=next(peers)))
    answers.append(await verify_code_from(api, person, code, next(peers)))
    return answers


async def verify_code_from(api, person, code: str, headers: dict[str, str]):
    body = {"email": person.email, "code": code}
    return await api.post(f"{AUTH}/code/verify", json=body, headers=headers)


async def test_ten_wrong_guesses_from_any_addresses_close_an_account_for_a_while(
    spread_api, settings
) -> None:
    db = settings.database_url
    await activate(spread_api, db, PATIENT_ALICE)
    peers = client_addresses()
    await spread_api.post(
        f"{AUTH}/code/request", json={"email": PATIENT_ALICE.email}, headers=next(peers)
    )
    code = sent_code(settings)

    transcripts = []
    for person in (PATIENT_ALICE, PATIENT_BOREY):  # Borey has no account
        answers = await guesses_then_the_truth(spread_api, peers, person, code)
        assert [a.status_code for a in answers] == [401] * ACCOUNT_FAILURE_LIMIT + [429, 429]
        for refused in answers[-2:]:  # refused unchecked: the right password would sign in
            refused_for(refused, ACCOUNT_FAILURE_WINDOW_SECONDS, ACCOUNT_FAILURE_LIMIT)
        transcripts.append([answer_of(a) for a in answers])

    assert transcripts[0] == transcripts[1]  # an account or none: the same answers
    assert audit_actions(db)["auth.login"] == 0
    # each burst of 429s is recorded once, under the route whose call crossed the limit
    assert [(e["action"], e["outcome"]) for e in rate_refusals(db)] == [
        ("public.login", "denied")
    ] * 2
    redis.Redis.from_url(settings.redis_url).flushdb()  # as when the quarter hour is over
    right = {"email": PATIENT_ALICE.email, "password": PATIENT_ALICE.password}
    assert (
        await spread_api.post(f"{AUTH}/login", json=right, headers=next(peers))
    ).status_code == 200


async def test_guesses_sent_at_once_get_no_more_than_the_budget(api, settings, services) -> None:
    """Each guess holds its unit before it is checked: a burst cannot all pass a count that
    is only written after the check."""
    await activate(api, settings.database_url, PATIENT_ALICE)
    await request_code(api)
    code = wrong(sent_code(settings))
    cases = wired(services)
    outcomes = await asyncio.gather(
        *(cases.run(login_with_code, OPERATOR, PATIENT_ALICE.email, code) for _ in range(30)),
        return_exceptions=True,
    )
    kinds = Counter(type(outcome).__name__ for outcome in outcomes)
    assert kinds == {"BadCredentials": ACCOUNT_FAILURE_LIMIT, "TooManyAttempts": 20}


async def test_a_sign_in_neither_spends_the_budget_nor_refills_it(api, settings) -> None:
    await activate(api, settings.database_url, PATIENT_ALICE)
    wrong_password = {"email": PATIENT_ALICE.email, "password": "not the password at all"}
    for _ in range(ACCOUNT_FAILURE_LIMIT - 1):
        assert_problem(await api.post(f"{AUTH}/login", json=wrong_password), 401)
    for _ in range(3):  # successes give their unit back
        await log_in(api, PATIENT_ALICE)
    assert_problem(await api.post(f"{AUTH}/login", json=wrong_password), 401)  # the tenth
    refused = await api.post(
        f"{AUTH}/login", json={"email": PATIENT_ALICE.email, "password": PATIENT_ALICE.password}
    )
    assert assert_problem(refused, 429)["code"] == "rate_limited"


async def test_wrong_second_factors_spend_the_same_budget_as_passwords(api, settings) -> None:
    await activate(api, settings.database_url, DOCTOR_CHANTHA, "doctor")
    secret, recovery = await enrol(api, bearer_of(await log_in(api, DOCTOR_CHANTHA)))
    wrong_password = {"email": DOCTOR_CHANTHA.email, "password": "not the password at all"}
    for _ in range(ACCOUNT_FAILURE_LIMIT - 2):
        assert_problem(await api.post(f"{AUTH}/login", json=wrong_password), 401)
    token = (await log_in(api, DOCTOR_CHANTHA))["mfaToken"]
    assert_problem(await mfa(api, token, code=wrong(totp_code(secret, 1))), 401)
    assert_problem(await mfa(api, token, recoveryCode="not-a-recovery-code"), 401)
    for factor in ({"code": totp_code(secret, 1)}, {"recoveryCode": recovery[0]}):
        refused = await mfa(api, token, **factor)
        assert assert_problem(refused, 429)["code"] == "rate_limited"
    # an unknown challenge names no account: only the per-address limit counts it
    assert_problem(await mfa(api, "not-a-challenge", code="123456"), 401)


async def test_the_rate_store_holds_no_address(api, settings) -> None:
    await activate(api, settings.database_url, PATIENT_ALICE)
    for person in (PATIENT_ALICE, PATIENT_BOREY):
        await request_code(api, person)
        assert_problem(await verify_code(api, "000000", person), 401)
        body = {"email": person.email.upper(), "password": "wrong"}
        assert_problem(await api.post(f"{AUTH}/login", json=body), 401)

    store = redis.Redis.from_url(settings.redis_url)
    keys = [key.decode() for key in store.scan_iter("healthplat:ratelimit:*")]
    values = [store.get(key).decode() for key in keys]
    for person in (PATIENT_ALICE, PATIENT_BOREY):
        local, _, domain = person.email.partition("@")
        assert not any(local in text.lower() or domain in text.lower() for text in keys + values)
    # codes asked and failures for each address (the upper-case sign-in counted with the
    # rest), and Alice's sign-up mail
    account_keys = [key for key in keys if ":account:" in key]
    assert sorted(int(store.get(key)) for key in account_keys) == [1, 1, 1, 2, 2]


@pytest.mark.parametrize(
    ("kind", "template"),
    [(LOGIN_CODE, "one_time_code"), (RESET_LINK, "password_reset")],
    ids=["sign-in code", "reset link"],
)
async def test_asking_for_an_email_takes_the_same_floor_whoever_asks(
    api, settings, kind, template
) -> None:
    """A floor, not a speed: the real work for Alice, none for the others, and each call lasts
    at least the floor (without it an unknown address answers several times faster)."""
    await activate(api, settings.database_url, PATIENT_ALICE)
    floor = 0.2
    slow = msgspec.structs.replace(settings, account_email_min_seconds=floor)
    async with running_services(slow) as services:
        for email in (PATIENT_ALICE.email, PATIENT_BOREY.email, "not an address"):
            started = time.monotonic()
            await wired(services).run(request_emailed_secret, OPERATOR, kind, email)
            assert time.monotonic() - started >= floor
    assert len(emails(settings.database_url, template, PATIENT_ALICE.email)) == 1


async def test_with_the_rate_store_down_no_guess_is_checked(settings) -> None:
    dead = msgspec.structs.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with running_services(dead) as services:
        cases = wired(services)
        with pytest.raises(BudgetUnavailable):
            await cases.run(login_with_password, OPERATOR, PATIENT_ALICE.email, "a guess")
        with pytest.raises(BudgetUnavailable):
            await cases.run(login_with_code, OPERATOR, PATIENT_ALICE.email, "123456")
        with pytest.raises(BudgetUnavailable):
            await cases.run(request_emailed_secret, OPERATOR, LOGIN_CODE, PATIENT_ALICE.email)
