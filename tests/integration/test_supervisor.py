"""The launcher's process supervisor, on small shell commands."""

from __future__ import annotations

import io
import os
import re
import signal
import time
from pathlib import Path

from honcho.printer import Printer

from workers.launcher.supervisor import RestartPolicy, Supervisor

QUICK_RESTARTS = RestartPolicy(max_exits=5, window_seconds=60, first_delay_seconds=0.05)


def _supervisor(stop: list[int], kill_wait: float = 5.0) -> tuple[Supervisor, io.StringIO]:
    out = io.StringIO()
    supervisor = Supervisor(
        lambda: stop[0] if stop else None, kill_wait, Printer(out), restart=QUICK_RESTARTS
    )
    return supervisor, out


def test_a_process_that_keeps_crashing_stops_everything_and_gives_its_code(
    tmp_path: Path,
) -> None:
    supervisor, out = _supervisor([])
    supervisor.start(
        {"short": "echo hello; exit 3", "long": "exec sleep 30"}, dict(os.environ), tmp_path
    )
    started = time.monotonic()
    assert supervisor.run() == 3
    assert time.monotonic() - started < 10
    text = out.getvalue()
    assert len(re.findall(r"short\s+\| hello", text)) == 5  # started, then restarted 4 times
    assert text.count("short exited unexpectedly; restarting it") == 4
    assert "short keeps crashing: it stopped 5 times within 60 s (last: exit code 3)" in text
    assert "sending SIGTERM to long" in text
    assert "long stopped" in text


def test_a_process_that_exits_is_restarted_and_the_others_keep_running(tmp_path: Path) -> None:
    stop: list[int] = []
    supervisor, out = _supervisor(stop)
    marker = tmp_path / "crashed-once"
    supervisor.start(
        {
            "flaky": f"if [ -e {marker} ]; then echo second life; exec sleep 30; fi; "
            f"touch {marker}; exit 1",
            "steady": "echo steady up; exec sleep 30",
        },
        dict(os.environ),
        tmp_path,
    )

    def stop_once_restarted() -> int | None:
        return signal.SIGTERM if "second life" in out.getvalue() else None

    supervisor._stop_requested = stop_once_restarted
    assert supervisor.run() == 128 + signal.SIGTERM
    text = out.getvalue()
    assert "flaky stopped (exit code 1)" in text
    assert "flaky exited unexpectedly; restarting it in 0.05 s" in text
    assert text.count("steady up") == 1  # never restarted
    assert "steady stopped" in text and "SIGTERM received" in text


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def test_what_a_crashed_process_leaves_in_its_group_is_killed_before_the_restart(
    tmp_path: Path,
) -> None:
    pids = tmp_path / "orphans"
    stop: list[int] = []
    supervisor, out = _supervisor(stop)
    # The leader dies at once; the child it forked (like a pool's worker process) would linger.
    supervisor.start(
        {"pool": f"sleep 60 & echo $! >> {pids}; kill -9 $$"}, dict(os.environ), tmp_path
    )
    first_orphan_alive_at_restart: list[bool] = []

    def stop_after_first_restart() -> int | None:
        if out.getvalue().count("pool started") < 2:
            return None
        if not first_orphan_alive_at_restart:
            first = int(pids.read_text().split()[0])
            time.sleep(0.2)  # SIGKILL is delivered at once, but the kernel takes a moment
            first_orphan_alive_at_restart.append(_running(first))
        return signal.SIGTERM

    supervisor._stop_requested = stop_after_first_restart
    supervisor.run()
    assert first_orphan_alive_at_restart == [False]
    assert "pool stopped (killed by SIGKILL)" in out.getvalue()
    assert not any(_running(int(pid)) for pid in pids.read_text().split())


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
