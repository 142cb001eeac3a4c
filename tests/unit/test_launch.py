"""The launcher's pure parts: URLs it logs and builds, the kept secrets, the Procfile."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from domain.settings import parse_keyring
from tests.support.paths import PROJECT_ROOT
from workers.launch import (
    LaunchError,
    load_or_create_keyring,
    load_or_create_secret,
    redact,
    url_with_database,
)
from workers.supervisor import read_procfile


def test_redact_masks_only_the_password() -> None:
    assert redact("postgresql://app:s3cret@db:5432/hp") == "postgresql://app:***@db:5432/hp"
    assert redact("redis://127.0.0.1:6380/0") == "redis://127.0.0.1:6380/0"
    assert "s3cret" not in redact("redis://:s3cret@cache:6379/0")


def test_url_with_database_keeps_the_socket_folder() -> None:
    uri = "postgresql://postgres:@/postgres?host=/data/postgres"
    assert url_with_database(uri, "healthplat") == (
        "postgresql://postgres:@/healthplat?host=/data/postgres"
    )


def test_secret_is_made_once_with_mode_0600_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "jwt_secret"
    secret, made = load_or_create_secret(path)
    assert made and len(secret) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, made_again = load_or_create_secret(path)
    assert (again, made_again) == (secret, False)


def test_a_too_short_secret_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jwt_secret"
    path.write_text("short\n")
    with pytest.raises(LaunchError):
        load_or_create_secret(path)


def test_keyring_is_a_valid_phi_keys_value_made_once(tmp_path: Path) -> None:
    path = tmp_path / "phi_keys"
    keyring, made = load_or_create_keyring(path)
    assert made and len(parse_keyring(keyring)) == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_keyring(path) == (keyring, False)


def test_a_malformed_keyring_file_is_kept_and_refused(tmp_path: Path) -> None:
    path = tmp_path / "phi_keys"
    path.write_text("not-a-keyring\n")
    with pytest.raises(LaunchError):
        load_or_create_keyring(path)
    assert path.read_text() == "not-a-keyring\n"


def test_procfile_runs_the_three_processes_each_with_exec() -> None:
    processes = read_procfile(PROJECT_ROOT / "Procfile")
    assert set(processes) >= {"web", "worker", "scheduler"}
    # The launcher signals each program alone: a line that does not exec its
    # program would leave the program running when its shell is stopped.
    assert all(command.startswith("exec ") for command in processes.values())
