"""Bad settings stop a launch before anything starts, and a process started on its own at once.

``healthplat`` gets several bad settings with nothing else set, so that it
would otherwise start embedded PostgreSQL and Redis: it must answer with exit
status 2 and one line per bad setting, and leave DATA_DIR uncreated and the
Redis port closed. uvicorn, dramatiq and the scheduler each say the same
lines, with no traceback, and exit.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import PROJECT_ROOT
from tests.support.servers import free_port

pytestmark = pytest.mark.slow

KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "TMPDIR")
SMTP_PASSWORD = "hunter2-not-to-be-seen"
PHI_GARBAGE = "garbage-keyring-not-to-be-seen"


def bare_env(**settings: str) -> dict[str, str]:
    """Only what runs Python, plus ``settings``: no setting of the caller's leaks in."""
    env = {name: os.environ[name] for name in KEEP if name in os.environ}
    return {**env, "PYTHONUNBUFFERED": "1", **settings}


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_the_launcher_refuses_bad_settings_before_starting_anything(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    redis_port = free_port()
    bad = {
        "ACCOUNT_EMAIL_MIN_SECONDS": "0",
        "JOB_HEARTBEAT_SECONDS": "abc",
        "LOG_FORMAT": "xml",
        "SMTP_URL": f"ftp://bob:{SMTP_PASSWORD}@mail.internal",
        "PHI_KEYS": PHI_GARBAGE,
        "WORKER_PROCESSES": "0",
        "PORT": "99999",
    }
    env = bare_env(DATA_DIR=str(data_dir), EMBEDDED_REDIS_PORT=str(redis_port), **bad)
    launcher = Path(sys.executable).parent / "healthplat"
    done = subprocess.run(
        [str(launcher)], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == len(bad), done.stderr
    named = sorted(line.split("cannot start: ", 1)[1].split(" must be ")[0] for line in lines)
    assert named == sorted(bad), done.stderr  # one line for each bad setting, no other line
    assert done.stdout == ""
    assert SMTP_PASSWORD not in done.stderr and PHI_GARBAGE not in done.stderr
    assert "Traceback" not in done.stderr
    assert not data_dir.exists()  # so no DATA_DIR/postgres, no DATA_DIR/redis
    assert not _port_open(redis_port)


@pytest.mark.parametrize(
    "argv",
    [
        ["-m", "uvicorn", "--factory", "api.app:create_app", "--port", "0"],
        ["-m", "dramatiq", "workers.app", "--processes", "1", "--threads", "1"],
        ["-m", "workers.scheduler"],
    ],
    ids=["api", "worker", "scheduler"],
)
def test_a_process_started_on_its_own_refuses_bad_settings_in_one_line_each(
    argv: list[str], tmp_path: Path
) -> None:
    env = bare_env(
        DATA_DIR=str(tmp_path / "data"),
        JWT_SECRET="j" * 40,
        PHI_KEYS="k1:" + base64.b64encode(bytes(32)).decode(),
        ACCOUNT_EMAIL_MIN_SECONDS="0",
        SMTP_URL=f"ftp://bob:{SMTP_PASSWORD}@mail.internal",
    )
    done = subprocess.run(
        [sys.executable, *argv],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    said = [line for line in output.splitlines() if "cannot start: " in line]
    assert said == [
        'cannot start: ACCOUNT_EMAIL_MIN_SECONDS must be a positive number of seconds (got "0")',
        "cannot start: SMTP_URL must be an smtp:// or smtps:// URL, e.g. "
        'smtp://user:password@mail.example.org:587 (got "ftp://bob:***@mail.internal")',
    ], output
    assert "Traceback" not in output
    assert SMTP_PASSWORD not in output
