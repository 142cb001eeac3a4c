"""Users' names and e-mail addresses at rest: sealed, found by a keyed lookup, and the upgrade
that seals accounts stored in the clear before revision 0008 without losing one."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import uuid
from pathlib import Path

import msgspec
import psycopg
import pytest
import sqlalchemy.exc
from alembic import command
from argon2 import PasswordHasher

from api.operator_cli import admin_main
from domain.phi.columns import PATIENT_DATE_OF_BIRTH, USER_EMAIL, USER_NAME, USER_PHONE
from domain.sealing import Sealed, SealedColumn
from domain.settings import Settings
from tests.conftest import TEST_JWT_SECRET, make_settings
from tests.support.accounts import (
    AUTH,
    activate,
    audit_actions,
    last_email,
    log_in,
    rows,
    sign_up,
    signup_body,
)
from tests.support.api import api_client
from tests.support.databases import (
    alembic_config,
    create_database,
    database_url_for,
    drop_database,
)
from tests.support.emails import SUITE_KEYRING
from tests.support.people import (
    ADMIN_EANG,
    DOCTOR_CHANTHA,
    DOCTOR_DARARITH,
    PATIENT_ALICE,
    PATIENT_BOREY,
    PEOPLE,
    Person,
)
from workers.launch import seal_stored_accounts

NAMES_AND_ADDRESSES = [value for person in PEOPLE for value in (person.name, person.email)]


def user_rows_as_text(database_url: str) -> str:
    """Every users row as PostgreSQL renders it, its sealed bytes too, lowercased."""
    found = rows(database_url, "SELECT u::text AS text, name_sealed, email_sealed FROM users u")
    parts = [row["text"] for row in found]
    parts += [
        bytes(row[column]).decode("latin-1")
        for row in found
        for column in ("name_sealed", "email_sealed")
        if row[column] is not None
    ]
    return "\n".join(parts).lower()


def assert_nothing_in_the_clear(database_url: str) -> None:
    found = rows(database_url, "SELECT * FROM users")
    assert found
    for row in found:
        assert row["name"] is None and row["email"] is None
        assert row["name_sealed"] is not None and row["email_sealed"] is not None
        assert len(row["email_lookup"]) == 32
    text = user_rows_as_text(database_url)
    for value in NAMES_AND_ADDRESSES:
        for form in {value.lower(), *value.lower().split()}:
            if len(form) >= 5:
                assert form not in text, "a name or an address is stored in the clear"


def opened(row: dict, column: SealedColumn) -> str:
    """A users row's sealed name or address, opened with the suite's keys."""
    sealed = Sealed(row[column.key_id_column], bytes(row[column.sealed_column]))
    return SUITE_KEYRING.open(sealed, column.context(row["id"])).decode()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(
        settings, rate_limit_auth_per_minute=10_000, account_email_min_seconds=0.001
    )


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


def environ(settings: Settings) -> dict[str, str]:
    keys = ",".join(
        f"{key_id}:{base64.b64encode(key).decode()}" for key_id, key in settings.phi_keys.items()
    )
    return {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "JWT_SECRET": TEST_JWT_SECRET,
        "PHI_KEYS": keys,
        "PHI_ACTIVE_KEY_ID": settings.phi_active_key_id,
        "DATA_DIR": str(settings.data_dir),
    }


async def run_command(main, *args, **kwargs):
    """A command line (its own event loop, as in a shell) from an async test: in a thread."""
    return await asyncio.to_thread(main, *args, **kwargs)


# --- accounts made by the platform -------------------------------------------------------------


async def test_no_name_or_address_is_stored_in_the_clear_after_sign_ups(api, settings) -> None:
    db = settings.database_url
    alice = await activate(api, db, PATIENT_ALICE)
    await activate(api, db, DOCTOR_CHANTHA, role="doctor")
    await sign_up(api, PATIENT_BOREY)  # pending, then taken over by a second sign-up
    await sign_up(api, msgspec.structs.replace(PATIENT_BOREY, name="Borey V. Vannak"))
    session = await log_in(api, PATIENT_ALICE)
    headers = {"Authorization": f"Bearer {session['accessToken']}"}
    renamed = await api.patch("/api/v1/me", json={"name": "Alice S. Sokunthea"}, headers=headers)
    assert renamed.status_code == 200, renamed.text
    create = ["create-admin", "--email", ADMIN_EANG.email, "--name", ADMIN_EANG.name]
    assert (
        await run_command(admin_main, create, environ=environ(settings), stdin=io.StringIO()) == 0
    )

    assert_nothing_in_the_clear(db)
    by_id = {str(row["id"]): row for row in rows(db, "SELECT * FROM users")}
    assert len(by_id) == 4
    assert opened(by_id[alice], USER_NAME) == "Alice S. Sokunthea"
    assert opened(by_id[alice], USER_EMAIL) == PATIENT_ALICE.email
    # the lookup is keyed: not the address's bare hash, and no address shows up twice
    lookups = [bytes(row["email_lookup"]) for row in by_id.values()]
    assert len(set(lookups)) == 4
    for person in (PATIENT_ALICE, PATIENT_BOREY, DOCTOR_CHANTHA, ADMIN_EANG):
        assert hashlib.sha256(person.email.encode()).digest() not in lookups
    [key] = rows(db, "SELECT * FROM lookup_keys")
    assert key["purpose"] == "users.email" and key["key_key_id"] == settings.phi_active_key_id
    me = await api.get("/api/v1/me", headers=headers)
    assert (me.json()["name"], me.json()["email"]) == ("Alice S. Sokunthea", PATIENT_ALICE.email)


async def test_a_sealed_row_copied_to_another_account_does_not_open(api, settings) -> None:
    """Each sealed name and address is bound to its row: a swapped value is refused, not read."""
    db = settings.database_url
    alice = await activate(api, db, PATIENT_ALICE)
    borey = await activate(api, db, PATIENT_BOREY)
    with psycopg.connect(db) as conn:
        conn.execute(
            "UPDATE users SET name_sealed = (SELECT name_sealed FROM users WHERE id = %s) "
            "WHERE id = %s",
            (alice, borey),
        )
    answer = await api.post(
        f"{AUTH}/login", json={"email": PATIENT_BOREY.email, "password": PATIENT_BOREY.password}
    )
    assert answer.status_code == 500
    assert PATIENT_ALICE.name not in answer.text


# --- the upgrade: accounts stored in the clear before revision 0008 -------------------------


def add_plaintext_user(conn: psycopg.Connection, person: Person, role: str) -> uuid.UUID:
    """An account as revision 0007 stored it: name and address in the clear."""
    user_id = uuid.uuid4()
    phone = SUITE_KEYRING.seal(person.phone.encode(), USER_PHONE.context(user_id))
    conn.execute(
        """
        INSERT INTO users (id, email, role, status, password_hash, name, phone_sealed,
                           phone_key_id, email_verified_at, created_at, updated_at)
        VALUES (%s, %s, %s, 'active', %s, %s, %s, %s, now(), now(), now())
        """,
        (
            user_id,
            person.email,
            role,
            PasswordHasher().hash(person.password),
            person.name,
            phone.blob,
            phone.key_id,
        ),
    )
    if role == "patient":
        born = SUITE_KEYRING.seal(
            person.date_of_birth.encode(), PATIENT_DATE_OF_BIRTH.context(user_id)
        )
        conn.execute(
            "INSERT INTO patient_profiles (user_id, date_of_birth_sealed, date_of_birth_key_id)"
            " VALUES (%s, %s, %s)",
            (user_id, born.blob, born.key_id),
        )
    elif role == "doctor":
        conn.execute(
            "INSERT INTO doctor_profiles (user_id, specialty, licence_number, "
            "consultation_fee_cents) VALUES (%s, %s, %s, %s)",
            (user_id, person.specialty, person.licence_number, person.consultation_fee_cents),
        )
    return user_id


OLD_ROLES = [
    (PATIENT_ALICE, "patient"),
    (PATIENT_BOREY, "patient"),
    (DOCTOR_CHANTHA, "doctor"),
    (DOCTOR_DARARITH, "doctor"),
    (ADMIN_EANG, "admin"),
]


@pytest.fixture
def upgraded(servers, redis_url, tmp_path: Path):
    """A database with accounts written at revision 0007, then migrated to head (not sealed)."""
    name = create_database(servers.admin_database_url)
    url = database_url_for(servers.admin_database_url, name)
    try:
        config = alembic_config(url)
        command.upgrade(config, "0007")
        with psycopg.connect(url) as conn:
            ids = {
                person.email: add_plaintext_user(conn, person, role) for person, role in OLD_ROLES
            }
            conn.execute(
                "INSERT INTO connections (id, doctor_id, patient_id, status, initiated_by, "
                "expires_at, created_at, updated_at) "
                "VALUES (%s, %s, %s, 'active', 'patient', now(), now(), now())",
                (uuid.uuid4(), ids[DOCTOR_CHANTHA.email], ids[PATIENT_ALICE.email]),
            )
        command.upgrade(config, "head")
        settings = make_settings(
            url,
            redis_url,
            tmp_path / "data",
            rate_limit_auth_per_minute=10_000,
            account_email_min_seconds=0.001,
        )
        yield settings, ids
    finally:
        drop_database(servers.admin_database_url, name)


async def reads_everything(settings: Settings, ids: dict[str, uuid.UUID]) -> None:
    """Sign-in by password and by e-mailed code, /me, the directory and connection listings:
    each shows the right names and addresses."""
    async with api_client(settings) as api:
        session = await log_in(api, PATIENT_ALICE)
        alice = {"Authorization": f"Bearer {session['accessToken']}"}
        me = (await api.get("/api/v1/me", headers=alice)).json()
        assert (me["name"], me["email"]) == (PATIENT_ALICE.name, PATIENT_ALICE.email)
        doctors = (await api.get("/api/v1/doctors", headers=alice)).json()["items"]
        assert [d["name"] for d in doctors] == [DOCTOR_CHANTHA.name, DOCTOR_DARARITH.name]
        listed = (await api.get("/api/v1/connections", headers=alice)).json()["items"]
        assert [(c["doctorName"], c["patientName"]) for c in listed] == [
            (DOCTOR_CHANTHA.name, PATIENT_ALICE.name)
        ]
        patient = await api.get(f"/api/v1/patients/{ids[PATIENT_ALICE.email]}", headers=alice)
        assert patient.json()["email"] == PATIENT_ALICE.email
        body = {"email": PATIENT_BOREY.email.upper()}
        assert (await api.post(f"{AUTH}/code/request", json=body)).status_code == 202
        code = last_email(settings.database_url, "one_time_code", PATIENT_BOREY.email)["code"]
        signed = await api.post(f"{AUTH}/code/verify", json={**body, "code": code})
        assert signed.status_code == 200, signed.text


async def test_accounts_stored_in_the_clear_are_sealed_by_the_sealing_step(upgraded, capsys):
    settings, ids = upgraded
    db = settings.database_url
    before = {row["id"]: row for row in rows(db, "SELECT * FROM users")}
    assert {row["email"] for row in before.values()} == {p.email for p, _ in OLD_ROLES}

    await reads_everything(settings, ids)  # before sealing: read in the clear
    async with api_client(settings) as api:  # a taken address answers like a new one ...
        again = {**signup_body(PATIENT_ALICE), "email": PATIENT_ALICE.email.upper()}
        assert (await api.post(f"{AUTH}/signup", json=again)).status_code == 201
    assert len(rows(db, "SELECT id FROM users")) == len(OLD_ROLES)  # ... and makes no account
    capsys.readouterr()

    assert (
        await run_command(
            admin_main, ["seal-accounts", "--batch-size", "2"], environ=environ(settings)
        )
        == 0
    )

    out = capsys.readouterr().out
    assert f"accounts sealed: {len(OLD_ROLES)}; still in the clear: 0" in out
    assert_nothing_in_the_clear(db)
    after = {row["id"]: row for row in rows(db, "SELECT * FROM users")}
    assert after.keys() == before.keys()  # no account lost
    for user_id, row in after.items():
        assert opened(row, USER_NAME) == before[user_id]["name"]
        assert opened(row, USER_EMAIL) == before[user_id]["email"]
        assert row["password_hash"] == before[user_id]["password_hash"]
    assert audit_actions(db)["phi.seal"] == 3  # 5 accounts in batches of 2
    await reads_everything(settings, ids)  # after: found by the lookup, opened

    sealed_again = await run_command(admin_main, ["seal-accounts"], environ=environ(settings))
    assert sealed_again == 0  # idempotent
    assert "accounts sealed: 0; still in the clear: 0" in capsys.readouterr().out
    assert audit_actions(db)["phi.seal"] == 3


async def test_the_launcher_seals_after_migrating(upgraded, capsys) -> None:
    settings, ids = upgraded
    env = environ(settings)

    await run_command(seal_stored_accounts, env)

    assert f"sealed the name and e-mail address of {len(OLD_ROLES)} account(s)" in (
        capsys.readouterr().err
    )
    assert_nothing_in_the_clear(settings.database_url)
    await run_command(seal_stored_accounts, env)  # the next start: nothing to do or say
    assert capsys.readouterr().err == ""
    await reads_everything(settings, ids)


async def test_an_address_taken_twice_in_the_upgrade_window_is_left_and_reported(
    upgraded, capsys
) -> None:
    """Code from before 0008 still running after the first sealing run could store an address
    a sealed account holds: that row keeps its plaintext, and seal-accounts says so."""
    settings, _ = upgraded
    db = settings.database_url
    await run_command(seal_stored_accounts, environ(settings))
    with psycopg.connect(db) as conn:
        add_plaintext_user(
            conn, msgspec.structs.replace(PATIENT_ALICE, name="Alice Again"), "patient"
        )
    capsys.readouterr()

    assert await run_command(admin_main, ["seal-accounts"], environ=environ(settings)) == 1

    captured = capsys.readouterr()
    assert "accounts sealed: 0; still in the clear: 1" in captured.out
    assert "1 account(s) share an address" in captured.err
    assert "Alice" not in captured.out + captured.err
    [left] = rows(db, "SELECT name, email_lookup FROM users WHERE name IS NOT NULL")
    assert left["email_lookup"] is None


def test_seal_accounts_needs_the_keys(upgraded, capsys) -> None:
    settings, _ = upgraded
    env = environ(settings)
    del env["PHI_KEYS"]
    assert admin_main(["seal-accounts"], environ=env) == 2
    assert "PHI_KEYS" in capsys.readouterr().err
    assert len(rows(settings.database_url, "SELECT id FROM users WHERE email IS NOT NULL")) == 5


def test_a_downgrade_keeps_accounts_in_the_clear_and_refuses_once_any_is_sealed(upgraded):
    settings, _ = upgraded
    db = settings.database_url
    config = alembic_config(db)
    command.downgrade(config, "0007")  # nothing sealed yet: the new columns go, accounts stay
    assert len(rows(db, "SELECT id FROM users WHERE email IS NOT NULL")) == len(OLD_ROLES)
    command.upgrade(config, "head")
    seal_stored_accounts(environ(settings))

    with pytest.raises(sqlalchemy.exc.DBAPIError, match="cannot unseal"):
        command.downgrade(config, "0007")

    assert_nothing_in_the_clear(db)
    assert len(rows(db, "SELECT id FROM users")) == len(OLD_ROLES)
