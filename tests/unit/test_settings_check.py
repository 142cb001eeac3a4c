"""The settings adapters parse at start, checked up front with the rest; a process started on
its own refuses bad settings with one line each and exit status 2."""

from __future__ import annotations

import base64

import pytest
from stellar_sdk import Keypair

from domain.adapters.settings_check import BAD_SETTINGS_EXIT, settings_or_exit, settings_problems

GOOD = {
    "JWT_SECRET": "j" * 40,
    "PHI_KEYS": "k1:" + base64.b64encode(bytes(32)).decode(),
    "DATABASE_URL": "postgresql://app:pw@db.internal:5432/healthplat",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "SMTP_URL": "smtp://mailer:pw@mail.internal:587",
    "STELLAR_SECRET_KEY": Keypair.random().secret,
}


def test_a_good_environment_has_no_problem() -> None:
    assert settings_problems(GOOD) == []
    socket_url = "postgresql://postgres:@/healthplat?host=/srv/data/postgres"
    assert settings_problems({**GOOD, "DATABASE_URL": socket_url}) == []
    assert settings_problems({**GOOD, "REDIS_URL": "unix:///run/redis.sock"}) == []


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        (
            "SMTP_URL",
            "ftp://bob:hunter2@mail.internal",
            "SMTP_URL must be an smtp:// or smtps:// URL, e.g. "
            'smtp://user:password@mail.example.org:587 (got "ftp://bob:***@mail.internal")',
        ),
        (
            "SMTP_URL",
            "smtp://mail.internal?starttls=maybe",
            "SMTP_URL must say ?starttls=true or ?starttls=false, if at all "
            '(got "smtp://mail.internal?starttls=maybe")',
        ),
        (
            "DATABASE_URL",
            "mysql://app:hunter2@db/healthplat",
            "DATABASE_URL must be a postgresql:// URL, e.g. "
            "postgresql://user:password@host:5432/healthplat (a unix socket: "
            'postgresql://user@/healthplat?host=/folder) (got "mysql://app:***@db/healthplat")',
        ),
        (
            "REDIS_URL",
            "http://cache:6379",
            "REDIS_URL must be a redis://, rediss:// or unix:// URL, e.g. "
            'redis://127.0.0.1:6379/0 (got "http://cache:6379")',
        ),
        (
            "STELLAR_SECRET_KEY",
            "SNOTASECRETATALL",
            "STELLAR_SECRET_KEY must be a Stellar secret seed (56 characters starting with S)",
        ),
        (
            "IPFS_API_URL",
            "127.0.0.1:5001",
            'IPFS_API_URL must be an http:// or https:// URL naming a host (got "127.0.0.1:5001")',
        ),
    ],
)
def test_a_setting_an_adapter_parses_is_refused_up_front(name: str, value: str, line: str) -> None:
    assert settings_problems({**GOOD, name: value}) == [line]


def test_a_database_url_with_a_bad_port_is_refused() -> None:
    (line,) = settings_problems({**GOOD, "DATABASE_URL": "postgresql://db:port/healthplat"})
    assert line.startswith("DATABASE_URL must be a postgresql:// URL")


def test_problems_of_load_settings_and_of_adapters_come_together() -> None:
    env = {**GOOD, "ACCOUNT_EMAIL_MIN_SECONDS": "0", "SMTP_URL": "ftp://x", "PHI_KEYS": "junk"}
    named = [line.split(" ", 1)[0] for line in settings_problems(env)]
    assert sorted(named) == ["ACCOUNT_EMAIL_MIN_SECONDS", "PHI_KEYS", "SMTP_URL"]


def test_a_process_started_on_its_own_says_each_problem_and_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = {**GOOD, "PORT": "1", "LOG_FORMAT": "xml", "SMTP_URL": "ftp://bob:hunter2@x"}
    with pytest.raises(SystemExit) as caught:
        settings_or_exit(env)
    assert caught.value.code == BAD_SETTINGS_EXIT
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "cannot start: LOG_FORMAT must be json or console, or be unset to choose by the terminal "
        '(got "xml")',
        "cannot start: SMTP_URL must be an smtp:// or smtps:// URL, e.g. "
        'smtp://user:password@mail.example.org:587 (got "ftp://bob:***@x")',
    ]
    assert "hunter2" not in err


def test_a_process_with_good_settings_gets_them() -> None:
    assert settings_or_exit(GOOD).smtp_url == GOOD["SMTP_URL"]
