"""``healthplat`` for real: embedded servers, migrations, stop; and how its processes log.

``--only-services`` is started with DATABASE_URL, REDIS_URL and JWT_SECRET
unset, so it must start embedded PostgreSQL and Redis under DATA_DIR,
migrate, keep a secret, and on SIGTERM stop both servers. Then the scheduler
runs under the launcher on the test's database, once with the launcher's
output on a terminal (its lines must be structlog's console lines) and once
on a pipe (JSON).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import redis

from domain.settings import Settings
from tests.support.paths import PROJECT_ROOT
from tests.support.processes import PlatformProcess, platform_env
from tests.support.servers import free_port
from tests.support.terminal import TerminalProcess

pytestmark = pytest.mark.slow

UNSET = ("DATABASE_URL", "REDIS_URL", "JWT_SECRET", "PHI_KEYS", "PHI_ACTIVE_KEY_ID")


def _exports(text: str) -> dict[str, str]:
    return dict(re.findall(r"^export (\w+)='([^']*)'$", text, re.MULTILINE))


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_only_services_starts_migrates_and_stops_embedded_servers(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env["DATA_DIR"] = str(data_dir)
    launcher = Path(sys.executable).parent / "healthplat"
    out_path, err_path = tmp_path / "out.log", tmp_path / "err.log"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(
            [str(launcher), "--only-services"],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 90
            while "services are up" not in err_path.read_text():
                assert process.poll() is None, err_path.read_text()
                assert time.monotonic() < deadline, err_path.read_text()
                time.sleep(0.1)
            exports = _exports(out_path.read_text())

            assert "host=" in exports["DATABASE_URL"]  # the embedded server's socket
            with psycopg.connect(exports["DATABASE_URL"]) as conn:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
                assert row is not None
            assert redis.Redis.from_url(exports["REDIS_URL"]).ping()
            assert "export METRICS_TOKEN=" in out_path.read_text()
            kept_files = ("jwt_secret", "phi_keys", "stellar_secret_key", "metrics_token")
            for kept in (data_dir / name for name in kept_files):
                assert stat.S_IMODE(kept.stat().st_mode) == 0o600
                secret = kept.read_text().strip()
                assert secret not in err_path.read_text()
                assert secret not in out_path.read_text()

            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 128 + signal.SIGTERM
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    log = err_path.read_text()
    assert "embedded PostgreSQL stopped" in log
    assert "embedded Redis stopped" in log
    assert not (data_dir / "postgres" / "postmaster.pid").exists()
    port = int(exports["REDIS_URL"].rsplit(":", 1)[1].split("/")[0])
    assert not _port_open(port)


def _scheduler_env(settings: Settings) -> dict[str, str]:
    env = platform_env(settings, PORT=str(free_port()))
    env.pop("LOG_FORMAT", None)
    return env


def _said_by_scheduler(output: str, event: str) -> str:
    """What the scheduler wrote on the line with ``event``, without the launcher's prefix."""
    (line,) = [line for line in output.splitlines() if event in line]
    prefix, _, said = line.partition(" | ")
    assert "scheduler" in prefix, line
    return said


def test_on_a_terminal_the_launcher_s_processes_log_console_lines(
    settings: Settings, log_dir: Path
) -> None:
    launcher_bin = Path(sys.executable).parent / "healthplat"
    launcher = TerminalProcess(
        "launcher", [str(launcher_bin), "scheduler"], _scheduler_env(settings), log_dir
    )
    try:
        launcher.wait_for("scheduler_leading", timeout=90)
    finally:
        code = launcher.stop()
    said = _said_by_scheduler(launcher.output(), "scheduler_leading")
    assert "[info" in said and not said.lstrip().startswith("{"), said
    assert code == 128 + signal.SIGTERM


def test_on_a_pipe_the_launcher_s_processes_log_json(
    settings: Settings, processes: list[PlatformProcess], log_dir: Path
) -> None:
    launcher_bin = Path(sys.executable).parent / "healthplat"
    launcher = PlatformProcess(
        "launcher", [str(launcher_bin), "scheduler"], _scheduler_env(settings), log_dir
    )
    processes.append(launcher)
    deadline = time.monotonic() + 90
    while "scheduler_leading" not in launcher.output():
        assert launcher.process.poll() is None, launcher.output()
        assert time.monotonic() < deadline, launcher.output()
        time.sleep(0.1)
    said = _said_by_scheduler(launcher.output(), "scheduler_leading")
    assert json.loads(said)["event"] == "scheduler_leading"
