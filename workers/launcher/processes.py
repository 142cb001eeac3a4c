"""What the launcher hands its processes: their environment, the Procfile's choice, the exports.

The running, restarting and stopping is workers/launcher/supervisor.py.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from workers.launcher.console import LaunchError, say
from workers.launcher.kept_secrets import KEPT_SECRETS
from workers.launcher.signals import SignalLatch
from workers.launcher.supervisor import Supervisor, read_procfile


def venv_bin() -> Path:
    return Path(sys.executable).parent


def process_env(
    base: Mapping[str, str],
    *,
    data_dir: Path,
    database_url: str,
    redis_url: str,
    secrets_kept: Mapping[str, str],
    port: int,
    host: str,
    terminal: bool,
) -> dict[str, str]:
    """The processes' environment: the caller's, plus what the launcher resolved.

    The processes write into the launcher's pipes, so on their own they would
    log JSON; when the launcher's output is a terminal (``terminal``) and
    LOG_FORMAT is unset, they are told to log console lines for a person.
    """
    env = dict(base)
    env.update(secrets_kept)
    env.update(
        DATA_DIR=str(data_dir),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        PORT=str(port),
        HOST=host,
        PYTHONUNBUFFERED="1",
    )
    if terminal and not base.get("LOG_FORMAT"):
        env["LOG_FORMAT"] = "console"
    path = base.get("PATH") or os.defpath
    env["PATH"] = f"{venv_bin()}{os.pathsep}{path}"
    return env


def choose_processes(procfile: Path, names: list[str]) -> dict[str, str]:
    """The Procfile's processes named in ``names`` (all of them if none is named)."""
    try:
        processes = read_procfile(procfile)
    except OSError as exc:
        raise LaunchError(f"{procfile} cannot be read ({exc.strerror})") from None
    if not processes:
        raise LaunchError(f"{procfile} declares no process")
    unknown = [name for name in names if name not in processes]
    if unknown:
        raise LaunchError(f"not in {procfile.name}: {', '.join(unknown)}")
    return {name: cmd for name, cmd in processes.items() if not names or name in names}


def run_processes(
    commands: Mapping[str, str],
    procfile: Path,
    env: dict[str, str],
    kill_wait: float,
    latch: SignalLatch,
) -> int:
    """Run ``commands`` until a signal, or a crash loop, stops them; the launcher's exit code.

    Each line runs through ``sh -c`` (so ${VAR:-default} works) in a session
    of its own; a process that exits is restarted with backoff; on SIGINT/SIGTERM,
    or when one process keeps crashing, each remaining program gets SIGTERM, and its
    process group SIGKILL ``kill_wait`` seconds later. See workers/launcher/supervisor.py
    for why this is not honcho's manager.
    """
    say(f"starting {', '.join(commands)} from {procfile}")
    supervisor = Supervisor(lambda: latch.received, kill_wait)
    supervisor.start(commands, env, procfile.parent)
    return supervisor.run()


def print_env(data_dir: Path, env: Mapping[str, str], base: Mapping[str, str]) -> None:
    """The exports for running processes by hand.

    Only what the launcher resolved itself is printed: a URL from the caller's
    environment may hold a password, and the secret appears as its file.
    """
    lines = [
        "# run processes by hand with this environment (e.g. paste into another shell):",
        f"export DATA_DIR='{data_dir}'",
    ]
    for name in ("DATABASE_URL", "REDIS_URL"):
        if base.get(name):
            lines.append(f"# {name}: keep the value you already have in your environment")
        else:
            lines.append(f"export {name}='{env[name]}'")
    for secret in KEPT_SECRETS:
        if base.get(secret.setting):
            lines.append(f"# {secret.setting}: keep the value you already have in your environment")
        else:
            lines.append(f"export {secret.setting}=\"$(cat '{data_dir / secret.file_name}')\"")
    print("\n".join(lines), flush=True)
