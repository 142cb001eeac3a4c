"""How a process logs: LOG_FORMAT if set; unset, console lines on a terminal, JSON elsewhere.

Each case runs a real process that reads its settings and logs one line with
the platform's logging, its stderr on a real pseudo-terminal or a pipe.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.paths import PROJECT_ROOT
from tests.support.terminal import TerminalProcess

PROBE = """
import structlog
from domain.logging import configure_logging
from domain.settings import load_settings
settings = load_settings()
configure_logging(settings.log_level, settings.log_format)
structlog.get_logger("probe").info("probe_line", count=1)
"""


def probe_env(log_format: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "LOG_FORMAT"}
    env.update(
        PYTHONPATH=str(PROJECT_ROOT),
        JWT_SECRET="j" * 40,
        PHI_KEYS="k1:" + base64.b64encode(bytes(32)).decode(),
    )
    if log_format is not None:
        env["LOG_FORMAT"] = log_format
    return env


def probe_line(log_format: str | None, *, terminal: bool, log_dir: Path) -> str:
    argv = [sys.executable, "-c", PROBE]
    if terminal:
        process = TerminalProcess("probe", argv, probe_env(log_format), log_dir)
        assert process.finish(timeout=30) == 0, process.output()
        output = process.output()
    else:
        done = subprocess.run(
            argv, env=probe_env(log_format), capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        output = done.stderr
    (line,) = [line for line in output.splitlines() if "probe_line" in line]
    return line


def is_json(line: str) -> bool:
    try:
        return json.loads(line)["event"] == "probe_line"
    except ValueError:
        return False


def is_console(line: str) -> bool:
    # structlog's console renderer: "<timestamp> [info     ] probe_line   count=1"
    return "[info" in line and "count=1" in line and not is_json(line)


@pytest.mark.parametrize(
    ("log_format", "terminal", "looks"),
    [
        (None, True, is_console),
        (None, False, is_json),
        ("json", True, is_json),
        ("console", False, is_console),
    ],
    ids=["unset-terminal", "unset-pipe", "json-terminal", "console-pipe"],
)
def test_log_format_or_the_terminal_chooses(
    log_format: str | None, terminal: bool, looks: Callable[[str], bool], tmp_path: Path
) -> None:
    line = probe_line(log_format, terminal=terminal, log_dir=tmp_path / "logs")
    assert looks(line), line
