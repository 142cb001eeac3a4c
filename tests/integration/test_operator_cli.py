"""The operators' command lines on a real database: the first admin, tokens for accounts."""

from __future__ import annotations

import base64
import io
import time
import uuid

import jwt
import pytest

from api.operator_cli import admin_main, token_main
from domain.settings import Settings
from tests.conftest import TEST_JWT_SECRET
from tests.support.accounts import audit_actions, execute, rows, token_in
from tests.support.people import ADMIN_EANG, PATIENT_ALICE
from tests.support.rows import audit_events

# These tests are synchronous: each command line runs its own event loop, as it does in a shell.


@pytest.fixture
def environ(settings: Settings) -> dict[str, str]:
    keys = ",".join(
        f"{key_id}:{base64.b64encode(key).decode()}" for key_id, key in settings.phi_keys.items()
    )
    return {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "JWT_SECRET": TEST_JWT_SECRET,
        "PHI_KEYS": keys,
        "DATA_DIR": str(settings.data_dir),
        "PUBLIC_APP_URL": "https://app.example.org",
    }


def create(environ: dict[str, str], *extra: str, stdin: str = "") -> int:
    argv = ["create-admin", "--email", ADMIN_EANG.email, "--name", ADMIN_EANG.name, *extra]
    return admin_main(argv, environ=environ, stdin=io.StringIO(stdin))


def test_create_admin_with_a_password_from_stdin(environ, settings, capsys) -> None:
    assert create(environ, "--password-stdin", stdin=ADMIN_EANG.password + "\n") == 0
    out = capsys.readouterr().out
    [user] = rows(settings.database_url, "SELECT * FROM users")
    assert f"admin created: {user['id']}" in out and "token=" not in out
    assert ADMIN_EANG.password not in out
    assert (user["role"], user["status"]) == ("admin", "active")
    assert user["email_verified_at"] is not None and user["password_hash"].startswith("$argon2id")
    [event] = audit_events(settings.database_url, outcome=None)
    assert (event["action"], event["actor_id"]) == ("user.create_admin", "healthplat-admin")


def test_create_admin_without_a_password_prints_a_reset_link_once(environ, settings, capsys):
    assert create(environ) == 0
    out = capsys.readouterr().out
    link = next(word for word in out.split() if word.startswith("https://"))
    assert link.startswith("https://app.example.org/reset-password?token=")
    [secret] = rows(settings.database_url, "SELECT * FROM one_time_secrets")
    assert secret["purpose"] == "password_reset"
    assert token_in(link).encode() not in bytes(secret["secret_hash"])
    [user] = rows(settings.database_url, "SELECT password_hash FROM users")
    assert user["password_hash"] is None


def test_create_admin_refuses_a_taken_address_and_a_weak_password(environ, settings, capsys):
    assert create(environ) == 0
    assert create(environ) == 1
    assert "already exists" in capsys.readouterr().err
    weak = ["create-admin", "--email", "x@example.org", "--name", "X", "--password-stdin"]
    assert admin_main(weak, environ=environ, stdin=io.StringIO("short\n")) == 1
    assert "password" in capsys.readouterr().err
    assert len(rows(settings.database_url, "SELECT id FROM users")) == 1
    assert audit_actions(settings.database_url)["user.create_admin"] == 1


def test_create_admin_needs_the_settings(environ, capsys) -> None:
    del environ["PHI_KEYS"]
    assert create(environ) == 2
    assert "PHI_KEYS" in capsys.readouterr().err


def test_the_token_cli_mints_for_an_active_account(environ, settings, capsys) -> None:
    assert create(environ, "--password-stdin", stdin=ADMIN_EANG.password) == 0
    [user] = rows(settings.database_url, "SELECT id FROM users")
    capsys.readouterr()
    for who in (["--email", ADMIN_EANG.email.upper()], ["--sub", str(user["id"])]):
        assert token_main([*who, "--ttl", "120"], environ=environ) == 0
        claims = jwt.decode(capsys.readouterr().out.strip(), TEST_JWT_SECRET, algorithms=["HS256"])
        assert claims["sub"] == str(user["id"]) and claims["role"] == "admin"
        assert 100 <= claims["exp"] - time.time() <= 121
    assert token_main(["--email", ADMIN_EANG.email, "--role", "patient"], environ=environ) == 1
    assert "role is admin" in capsys.readouterr().err


def test_the_token_cli_refuses_unknown_and_inactive_accounts(environ, settings, capsys) -> None:
    assert token_main(["--email", PATIENT_ALICE.email], environ=environ) == 1
    assert token_main(["--sub", str(uuid.uuid4())], environ=environ) == 1
    assert "no such account" in capsys.readouterr().err
    assert create(environ) == 0
    execute(settings.database_url, "UPDATE users SET status = 'disabled'")
    capsys.readouterr()
    assert token_main(["--email", ADMIN_EANG.email], environ=environ) == 1
    assert "disabled" in capsys.readouterr().err


def test_the_token_cli_refuses_bad_arguments(environ, capsys) -> None:
    assert token_main(["--sub", "ops-1"], environ=environ) == 2
    assert "UUID" in capsys.readouterr().err
    assert token_main(["--sub", str(uuid.uuid4())], environ={**environ, "JWT_SECRET": ""}) == 2
    assert "JWT_SECRET" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        token_main(["--email", "a@example.org", "--role", "root"], environ=environ)
    with pytest.raises(SystemExit):
        token_main([], environ=environ)
