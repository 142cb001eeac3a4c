"""The embedded PostgreSQL and Redis the launcher runs for DATABASE_URL / REDIS_URL left unset.

The servers themselves are workers/embedded.py (the test suite uses them
too); here is what the launcher adds: where they live under DATA_DIR, which
port Redis takes, a Redis left behind by a launcher that was killed, the
database, and stopping both on the way out (registered on the launch's
ExitStack, because pgserver's own stop does not fire after a killed process).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
import warnings
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from workers.embedded import EmbeddedPostgres, EmbeddedRedis
from workers.launcher.console import LaunchError, say

EMBEDDED_DATABASE = "healthplat"
EMBEDDED_REDIS_PORT = 6380


def postgres_dir(data_dir: Path) -> Path:
    return data_dir / "postgres"


def redis_dir(data_dir: Path) -> Path:
    return data_dir / "redis"


def url_with_database(url: str, name: str) -> str:
    """``url`` (a postgresql:// URL, e.g. pgserver's socket URI) pointing at database ``name``."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def embedded_database_url_stand_in(data_dir: Path) -> str:
    """The shape of the URL the embedded PostgreSQL will have (pgserver's socket URI), to check
    the processes' settings with before the server exists."""
    socket_dir = quote(str(postgres_dir(data_dir)), safe="/")
    return f"postgresql://postgres:@/{EMBEDDED_DATABASE}?host={socket_dir}"


def embedded_redis_url_stand_in(data_dir: Path, wanted_port: int | None) -> str:
    return EmbeddedRedis(redis_dir(data_dir), wanted_port or EMBEDDED_REDIS_PORT).url


def ensure_database(admin_url: str, name: str) -> bool:
    """Create database ``name`` unless it exists; True if it was created."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if found:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def start_embedded_postgres(data_dir: Path, stack: ExitStack) -> str:
    directory = postgres_dir(data_dir)
    server = EmbeddedPostgres(directory)
    if os.geteuid() == 0:
        say(
            "running as root: pgserver runs PostgreSQL as the system user 'pgserver' "
            f"(created if missing), owning {directory}, and adds read/execute for others "
            "on the folders above it and above the venv"
        )
    say(f"starting embedded PostgreSQL in {directory}")
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (su, cron, CI); pgserver copes.
        warnings.simplefilter("ignore")
        admin_url = server.start()
    stack.callback(_stop_postgres, server)
    created = ensure_database(admin_url, EMBEDDED_DATABASE)
    verb = "created" if created else "found"
    say(f"embedded PostgreSQL is up; database '{EMBEDDED_DATABASE}' {verb}")
    return url_with_database(admin_url, EMBEDDED_DATABASE)


def _stop_postgres(server: EmbeddedPostgres) -> None:
    say("stopping embedded PostgreSQL")
    server.stop()
    say("embedded PostgreSQL stopped")


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def choose_redis_port(wanted: int | None) -> int:
    """EMBEDDED_REDIS_PORT if set (it must be free); else 6380 if free; else any free port."""
    if wanted is not None:
        if not port_is_free(wanted):
            raise LaunchError(f"EMBEDDED_REDIS_PORT {wanted} is already in use on 127.0.0.1")
        return wanted
    if port_is_free(EMBEDDED_REDIS_PORT):
        return EMBEDDED_REDIS_PORT
    port = free_port()
    say(f"port {EMBEDDED_REDIS_PORT} is taken; embedded Redis will use port {port}")
    return port


def stop_stale_redis(directory: Path) -> None:
    """Stop a Redis left running by a launcher that was killed (its pidfile is still there).

    We hold DATA_DIR's lock, so a live redis-server serving this folder is
    nobody else's. The pid is trusted only if /proc confirms it is redis-server.
    """
    pidfile = directory / "redis.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        cmdline = b""
    if b"redis-server" in cmdline:
        say(f"stopping a stale embedded Redis (pid {pid}) left by an earlier run")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
    pidfile.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, waiting for its parent to reap it, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def start_embedded_redis(data_dir: Path, wanted_port: int | None, stack: ExitStack) -> str:
    directory = redis_dir(data_dir)
    stop_stale_redis(directory)
    server = EmbeddedRedis(directory, port=choose_redis_port(wanted_port))
    say(f"starting embedded Redis on 127.0.0.1:{server.port} (data folder {directory})")
    stack.callback(_stop_redis, server)
    url = server.start()
    say("embedded Redis is up")
    return url


def _stop_redis(server: EmbeddedRedis) -> None:
    say("stopping embedded Redis")
    server.stop()
    say("embedded Redis stopped")
