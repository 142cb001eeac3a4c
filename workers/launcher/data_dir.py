"""DATA_DIR: where it is, whether it can serve, and the lock that keeps a second launcher off it."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from workers.launcher.console import LaunchError

DEFAULT_DATA_DIR = ".data"
LOCK_FILE = "launcher.lock"


def data_dir_path(env: Mapping[str, str]) -> Path:
    """DATA_DIR as the processes get it: an absolute path (nothing is created here)."""
    return Path(env.get("DATA_DIR") or DEFAULT_DATA_DIR).expanduser().resolve()


def data_dir_problem(path: Path) -> str | None:
    """What DATA_DIR must be, if ``path`` cannot serve as one (nothing is created here)."""
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return "be a folder, or a path where one can be made (a file is in the way)"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"be a folder the launcher may write in ({existing} is not)"
    return None


def make_data_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def lock_data_dir(data_dir: Path) -> IO[str]:
    """Hold an exclusive lock on DATA_DIR: two launchers must not share embedded servers."""
    handle = open(data_dir / LOCK_FILE, "a")  # noqa: SIM115 - held until the process exits
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise LaunchError(f"another healthplat is already running on {data_dir}") from None
    return handle
