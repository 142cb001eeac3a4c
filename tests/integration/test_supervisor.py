"""The launcher's process supervisor, on small shell commands."""

from __future__ import annotations

import io
import os
import re
import signal
import time
from pathlib import Path

from honcho.printer import Printer

from workers.supervisor import Supervisor


def _supervisor(stop: list[int], kill_wait: float = 5.0) -> tuple[Supervisor, io.StringIO]:
    out = io.StringIO()
    return Supervisor(lambda: stop[0] if stop else None, kill_wait, Printer(out)), out


def test_the_first_exit_stops_the_others_and_gives_its_code(tmp_path: Path) -> None:
    supervisor, out = _supervisor([])
    supervisor.start(
        {"short": "echo hello; exit 3", "long": "exec sleep 30"}, dict(os.environ), tmp_path
    )
    started = time.monotonic()
    assert supervisor.run() == 3
    assert time.monotonic() - started < 10
    text = out.getvalue()
    assert re.search(r"short\s+\| hello", text)
    assert "sending SIGTERM to long" in text


def test_a_signal_stops_everything_with_128_plus_its_number(tmp_path: Path) -> None:
    stop: list[int] = []
    supervisor, out = _supervisor(stop)
    supervisor.start({"a": "exec sleep 30", "b": "exec sleep 30"}, dict(os.environ), tmp_path)
    stop.append(signal.SIGTERM)
    assert supervisor.run() == 128 + signal.SIGTERM
    assert "SIGTERM received" in out.getvalue()


def test_a_program_that_ignores_sigterm_is_killed_after_the_wait(tmp_path: Path) -> None:
    out = io.StringIO()

    def stop_once_trapped() -> int | None:  # only once the shell has set its trap
        return signal.SIGINT if "trapped" in out.getvalue() else None

    supervisor = Supervisor(stop_once_trapped, 0.5, Printer(out))
    supervisor.start(
        {"stubborn": "trap '' TERM; echo trapped; while :; do sleep 0.1; done"},
        dict(os.environ),
        tmp_path,
    )
    started = time.monotonic()
    assert supervisor.run() == 128 + signal.SIGINT
    assert time.monotonic() - started < 10
    assert "sending SIGKILL to stubborn" in out.getvalue()
