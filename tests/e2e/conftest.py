"""End-to-end fixtures: the platform's real processes on the test's database and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.settings import Settings
from tests.support.processes import PlatformProcess


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[PlatformProcess]]:
    """Every process a test starts is appended here and stopped after it, even on failure."""
    started: list[PlatformProcess] = []
    yield started
    for process in reversed(started):
        process.stop()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path / "logs"


@pytest.fixture
def e2e_settings(settings: Settings) -> Settings:
    return settings
