"""Where the launcher finds the project's files (pyproject.toml, Procfile)."""

from __future__ import annotations

from pathlib import Path

from workers.launcher.console import LaunchError

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def find_project_file(name: str) -> Path:
    """``name`` in the current folder, else in the source tree this module came from."""
    for folder in (Path.cwd(), PROJECT_ROOT):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise LaunchError(f"{name} not found in {Path.cwd()} or {PROJECT_ROOT}")
