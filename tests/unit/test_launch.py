"""The launcher's pure parts: URLs it logs and builds, the kept secrets, the Procfile, and
the check of every setting before anything starts."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from domain.setting_values import redact_url
from domain.settings import SettingsError, parse_keyring
from tests.support.paths import PROJECT_ROOT
from workers.launch import parse_args, preflight
from workers.launcher.console import LaunchError
from workers.launcher.kept_secrets import JWT_SECRET, PHI_KEYS, load_or_create
from workers.launcher.preflight import LaunchSettings, read_launch_settings
from workers.launcher.processes import process_env
from workers.launcher.services import url_with_database
from workers.launcher.supervisor import read_procfile


def test_redact_masks_only_the_password() -> None:
    assert redact_url("postgresql://app:s3cret@db:5432/hp") == "postgresql://app:***@db:5432/hp"
    assert redact_url("redis://127.0.0.1:6380/0") == "redis://127.0.0.1:6380/0"
    assert "s3cret" not in (redact_url("redis://:s3cret@cache:6379/0") or "")


def test_url_with_database_keeps_the_socket_folder() -> None:
    uri = "postgresql://postgres:@/postgres?host=/data/postgres"
    assert url_with_database(uri, "healthplat") == (
        "postgresql://postgres:@/healthplat?host=/data/postgres"
    )


def test_secret_is_made_once_with_mode_0600_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "jwt_secret"
    secret, made = load_or_create(JWT_SECRET, tmp_path)
    assert made and len(secret) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, made_again = load_or_create(JWT_SECRET, tmp_path)
    assert (again, made_again) == (secret, False)


def test_a_too_short_secret_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jwt_secret"
    path.write_text("short\n")
    with pytest.raises(LaunchError):
        load_or_create(JWT_SECRET, tmp_path)


def test_keyring_is_a_valid_phi_keys_value_made_once(tmp_path: Path) -> None:
    path = tmp_path / "phi_keys"
    keyring, made = load_or_create(PHI_KEYS, tmp_path)
    assert made and len(parse_keyring(keyring)) == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create(PHI_KEYS, tmp_path) == (keyring, False)


def test_a_malformed_keyring_file_is_kept_and_refused(tmp_path: Path) -> None:
    path = tmp_path / "phi_keys"
    path.write_text("not-a-keyring\n")
    with pytest.raises(LaunchError):
        load_or_create(PHI_KEYS, tmp_path)
    assert path.read_text() == "not-a-keyring\n"


def test_procfile_runs_the_three_processes_each_with_exec() -> None:
    processes = read_procfile(PROJECT_ROOT / "Procfile")
    assert set(processes) >= {"web", "worker", "scheduler"}
    # The launcher signals each program alone: a line that does not exec its
    # program would leave the program running when its shell is stopped.
    assert all(command.startswith("exec ") for command in processes.values())


# -- every setting of a launch, checked before anything starts -----------------------------


def test_a_fresh_machine_needs_no_setting_and_the_check_writes_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    launch = read_launch_settings({"DATA_DIR": str(data_dir)}, terminal=False)
    assert launch == LaunchSettings(
        data_dir=data_dir,
        port=8000,
        host="127.0.0.1",
        stop_timeout_seconds=20.0,
        embedded_redis_port=None,
        terminal=False,
    )
    assert not data_dir.exists()


def test_every_bad_setting_of_a_launch_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {
        "DATA_DIR": str(data_dir),
        "PORT": "99999",
        "HOST": "not a host",
        "WEB_CONCURRENCY": "two",
        "WORKER_PROCESSES": "0",
        "WORKER_THREADS": "many",
        "EMBEDDED_REDIS_PORT": "0",
        "STOP_TIMEOUT_SECONDS": "-1",
        "ACCOUNT_EMAIL_MIN_SECONDS": "0",
        "SMTP_URL": "ftp://bob:hunter2@mail.internal",
        "PHI_KEYS": "garbage-secret",
    }
    with pytest.raises(SettingsError) as caught:
        read_launch_settings(env, terminal=False)
    assert caught.value.problems == (
        'PORT must be a port number from 1 to 65535 (got "99999")',
        'HOST must be an IP address or a host name (got "not a host")',
        'WEB_CONCURRENCY must be a positive whole number of processes (got "two")',
        'WORKER_PROCESSES must be a positive whole number of processes (got "0")',
        'WORKER_THREADS must be a positive whole number of threads (got "many")',
        'EMBEDDED_REDIS_PORT must be a port number from 1 to 65535 (got "0")',
        'STOP_TIMEOUT_SECONDS must be a positive number of seconds (got "-1")',
        "PHI_KEYS must be a keyring of id:<base64 of 32 random bytes> entries, comma-separated "
        "(an entry is not written id:base64key)",
        'ACCOUNT_EMAIL_MIN_SECONDS must be a positive number of seconds (got "0")',
        "SMTP_URL must be an smtp:// or smtps:// URL, e.g. "
        'smtp://user:password@mail.example.org:587 (got "ftp://bob:***@mail.internal")',
    )
    assert not data_dir.exists()


def test_a_kept_file_that_cannot_serve_is_named_with_its_setting_and_left_alone(
    tmp_path: Path,
) -> None:
    (tmp_path / "jwt_secret").write_text("short-secret\n")
    (tmp_path / "phi_keys").write_text("not-a-keyring\n")
    with pytest.raises(SettingsError) as caught:
        read_launch_settings({"DATA_DIR": str(tmp_path)}, terminal=False)
    assert caught.value.problems == (
        f"{tmp_path / 'jwt_secret'} (kept for JWT_SECRET) must hold at least 32 characters; "
        "remove it to get a new one",
        f"{tmp_path / 'phi_keys'} (kept for PHI_KEYS) must hold a PHI keyring "
        "(an entry is not written id:base64key); it is never replaced: restore it from your "
        "backup, or set PHI_KEYS",
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["jwt_secret", "phi_keys"]
    assert (tmp_path / "phi_keys").read_text() == "not-a-keyring\n"


def test_a_kept_file_is_not_checked_when_its_setting_is_given(tmp_path: Path) -> None:
    (tmp_path / "jwt_secret").write_text("short-secret\n")
    env = {"DATA_DIR": str(tmp_path), "JWT_SECRET": "j" * 40}
    assert read_launch_settings(env, terminal=False).data_dir == tmp_path


def test_a_data_dir_that_is_a_file_is_refused_once(tmp_path: Path) -> None:
    in_the_way = tmp_path / "data"
    in_the_way.write_text("")
    with pytest.raises(SettingsError) as caught:
        read_launch_settings({"DATA_DIR": str(in_the_way / "sub")}, terminal=False)
    assert caught.value.problems == (
        "DATA_DIR must be a folder, or a path where one can be made (a file is in the way) "
        f'(got "{in_the_way / "sub"}")',
    )


def test_unknown_processes_are_refused_with_the_settings(tmp_path: Path) -> None:
    args = parse_args(["web", "nosuch"])
    plan, problems = preflight(args, {"DATA_DIR": str(tmp_path / "d"), "PORT": "0"})
    assert plan is None
    assert problems == [
        'PORT must be a port number from 1 to 65535 (got "0")',
        "not in Procfile: nosuch",
    ]


def test_a_good_launch_has_a_plan(tmp_path: Path) -> None:
    plan, problems = preflight(parse_args(["web", "worker"]), {"DATA_DIR": str(tmp_path)})
    assert problems == []
    assert plan is not None and list(plan.commands) == ["web", "worker"]


def process_env_for(base: dict[str, str], *, terminal: bool) -> dict[str, str]:
    return process_env(
        base,
        data_dir=Path("/srv/data"),
        database_url="postgresql://db/healthplat",
        redis_url="redis://cache:6379/0",
        secrets_kept={"JWT_SECRET": "kept"},
        port=8000,
        host="127.0.0.1",
        terminal=terminal,
    )


def test_processes_log_console_lines_when_the_launcher_is_on_a_terminal() -> None:
    assert process_env_for({}, terminal=True)["LOG_FORMAT"] == "console"
    assert "LOG_FORMAT" not in process_env_for({}, terminal=False)
    assert process_env_for({"LOG_FORMAT": "json"}, terminal=True)["LOG_FORMAT"] == "json"
    env = process_env_for({"PATH": "/usr/bin"}, terminal=False)
    assert env["PATH"].endswith(":/usr/bin") and env["JWT_SECRET"] == "kept"


def test_a_procfile_that_cannot_be_read_is_a_problem_of_the_launch(tmp_path: Path) -> None:
    args = parse_args(["--procfile", str(tmp_path / "Nofile")])
    plan, problems = preflight(args, {"DATA_DIR": str(tmp_path)})
    assert plan is None
    assert problems == [f"{tmp_path / 'Nofile'} cannot be read (No such file or directory)"]
