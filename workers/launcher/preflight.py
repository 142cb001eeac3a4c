"""Every setting of a launch checked before anything starts, every bad one reported at once.

Three kinds: the launcher's own (DATA_DIR, PORT, HOST, WEB_CONCURRENCY,
WORKER_PROCESSES, WORKER_THREADS, EMBEDDED_REDIS_PORT, STOP_TIMEOUT_SECONDS); the secrets kept in
DATA_DIR for settings left unset; and every setting of the processes, checked
by the code the processes themselves run at start
(domain/adapters/settings_check.py) on the environment they will get, with
what the launcher fills in itself standing in for what is unset (the embedded
servers' URLs, the kept or yet-to-be-made secrets). Without this, a bad value
let the launcher start PostgreSQL and Redis and migrate, and then each process
died with its own traceback, again at every restart. Nothing is written or
started here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from domain.adapters.settings_check import settings_problems
from domain.setting_values import Refusals, host_problem
from domain.settings import SECONDS
from workers.launcher.data_dir import data_dir_path, data_dir_problem
from workers.launcher.kept_secrets import stand_in_secrets
from workers.launcher.processes import process_env
from workers.launcher.services import (
    embedded_database_url_stand_in,
    embedded_redis_url_stand_in,
)

DEFAULT_PORT = 8000
DEFAULT_HOST = "127.0.0.1"
DEFAULT_STOP_TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True)
class LaunchSettings:
    """The launcher's own settings, read once they are all known to be good."""

    data_dir: Path
    port: int
    host: str
    stop_timeout_seconds: float
    embedded_redis_port: int | None  # None: 6380 if free, else any free port
    terminal: bool  # the launcher's stdout is a terminal: processes log console lines


def read_launch_settings(base: Mapping[str, str], *, terminal: bool) -> LaunchSettings:
    """The launcher's settings if every setting of the launch is good; else SettingsError with
    one problem per bad setting (the processes' included)."""
    read = Refusals(base)
    data_dir = data_dir_path(base)
    data_dir_bad = data_dir_problem(data_dir)
    if data_dir_bad is not None:
        read.refuse("DATA_DIR", data_dir_bad, str(data_dir))
    port = read.port("PORT")
    host = read.checked("HOST", host_problem)
    for name, what in (
        ("WEB_CONCURRENCY", "processes"),
        ("WORKER_PROCESSES", "processes"),
        ("WORKER_THREADS", "threads"),
    ):
        read.number(name, int, f"be a positive whole number of {what}")
    redis_port = read.port("EMBEDDED_REDIS_PORT")
    stop_timeout = read.number("STOP_TIMEOUT_SECONDS", float, SECONDS)
    launch = LaunchSettings(
        data_dir=data_dir,
        port=port or DEFAULT_PORT,
        host=host or DEFAULT_HOST,
        stop_timeout_seconds=stop_timeout or DEFAULT_STOP_TIMEOUT_SECONDS,
        embedded_redis_port=redis_port,
        terminal=terminal,
    )
    # A DATA_DIR that cannot serve has no files to read either: one line says it.
    kept, kept_problems = stand_in_secrets(base, data_dir if data_dir_bad is None else None)
    read.problems.extend(kept_problems)
    env = process_env(
        base,
        data_dir=data_dir,
        database_url=base.get("DATABASE_URL") or embedded_database_url_stand_in(data_dir),
        redis_url=base.get("REDIS_URL") or embedded_redis_url_stand_in(data_dir, redis_port),
        secrets_kept=kept,
        port=launch.port,
        host=launch.host,
        terminal=terminal,
    )
    read.problems.extend(settings_problems(env))
    read.raise_if_any()
    return launch
