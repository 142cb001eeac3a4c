"""A process whose output is a terminal (a pseudo-terminal), as when a person runs it at a shell.

Processes choose how to log by whether their output is a terminal, so tests
of that need a real one: stdout and stderr both go to the pty, a thread
reads it into a log file of the test's own (which joins the suite's PHI log
scan, as PlatformProcess's do).
"""

from __future__ import annotations

import contextlib
import os
import pty
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.support.log_capture import register_process_log
from tests.support.paths import PROJECT_ROOT


class TerminalProcess:
    def __init__(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], log_dir: Path
    ) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{name}-tty-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        register_process_log(self.log_path)
        master, slave = pty.openpty()
        self.process = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        self._reader = threading.Thread(target=self._read, args=(master,), daemon=True)
        self._reader.start()

    def _read(self, master: int) -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO once every process holding the terminal has closed it
                break
            if not data:
                break
            self._log.write(data)
            self._log.flush()
        os.close(master)

    def output(self) -> str:
        """What was written so far, with the terminal's CR LF line ends made plain LF."""
        return self.log_path.read_bytes().decode(errors="replace").replace("\r\n", "\n")

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.process.poll() is None or self._reader.is_alive(), self.output()[-3000:]
            assert time.monotonic() < deadline, f"no {text!r} in:\n{self.output()[-3000:]}"
            time.sleep(0.1)

    def finish(self, timeout: float) -> int:
        """Wait for the process to end on its own; its exit code, with all its output read."""
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then whatever of its process group is left gets SIGKILL."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        code = self.process.wait(5)
        self._reader.join(5)
        self._log.close()
        return code
