"""Runs the Procfile's processes for the launcher, the way ``honcho start`` does, minus two traps.

The Procfile is read and the output printed with honcho's own parser and
printer, so lines look as under ``honcho start``. What differs is how the
processes are watched and stopped:

* honcho watches each process from a forked helper that inherits honcho's
  signal handler until it sets SIG_IGN: a Ctrl-C in the terminal (sent to
  the launcher's whole process group) in those first milliseconds runs the
  handler inside a helper, and the manager then waits forever. Here threads
  watch the processes, and each process runs in a session of its own, so a
  terminal's signal reaches the launcher alone.
* honcho sends SIGTERM to each process *group*. A Dramatiq worker process
  then gets it twice, once directly and once forwarded by Dramatiq's main
  process, and on the second it leaves its main thread while its worker
  threads run on: the pool hangs until SIGKILL and in-flight jobs are cut.
  Here SIGTERM goes to the program alone (each Procfile line ``exec``s it,
  so the shell's pid is the program's), which stops its own children;
  SIGKILL, the last resort, goes to the whole group.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from honcho.colour import get_colours
from honcho.environ import parse_procfile
from honcho.printer import Message, Printer

SYSTEM = "system"


def read_procfile(path: Path) -> dict[str, str]:
    return dict(parse_procfile(path.read_text()).processes)


@dataclass
class _Running:
    name: str
    process: subprocess.Popen[bytes]
    colour: str | None
    returncode: int | None = None


class Supervisor:
    """Starts processes, prints their output, stops them all once one stops or a signal comes.

    ``stop_requested`` is polled: the caller's signal handler only records
    the signal, and the loop here does the stopping outside the handler.
    """

    def __init__(
        self,
        stop_requested: Callable[[], int | None],
        kill_wait: float,
        printer: Printer | None = None,
    ) -> None:
        self._stop_requested = stop_requested
        self._kill_wait = kill_wait
        self._printer = printer or Printer(sys.stdout)
        self._printer.width = len(SYSTEM)
        self._colours = get_colours()
        self._events: queue.Queue[tuple[str, bytes | None]] = queue.Queue()
        self._running: dict[str, _Running] = {}

    def start(self, commands: Mapping[str, str], env: Mapping[str, str], cwd: Path) -> None:
        """Start each named command; if one cannot start, kill those already started."""
        self._printer.width = max(self._printer.width, *(len(name) for name in commands))
        try:
            for name, command in commands.items():
                self._add(name, command, env, cwd)
        except BaseException:
            self.kill_leftovers()
            raise

    def _add(self, name: str, command: str, env: Mapping[str, str], cwd: Path) -> None:
        process = subprocess.Popen(
            command,
            shell=True,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._running[name] = _Running(name, process, next(self._colours))
        self._print(SYSTEM, f"{name} started (pid={process.pid})")
        threading.Thread(target=self._pump, args=(name, process), daemon=True).start()
        threading.Thread(target=self._reap, args=(name, process), daemon=True).start()

    def _pump(self, name: str, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for line in iter(process.stdout.readline, b""):
            self._events.put((name, line))
        process.stdout.close()

    def _reap(self, name: str, process: subprocess.Popen[bytes]) -> None:
        process.wait()
        self._events.put((name, None))

    def _print(self, name: str, text: str | bytes, colour: str | None = None) -> None:
        now = datetime.datetime.now()
        self._printer.write(Message(type="line", data=text, time=now, name=name, colour=colour))

    def run(self) -> int:
        """Wait until every process has stopped; the first stop or a signal stops the rest.

        Returns 128 + the signal's number when a signal stopped them, else the
        exit code of the first process that stopped (as ``honcho start`` does).
        """
        code: int | None = None
        stopping_since: float | None = None
        killed = False
        try:
            while any(r.returncode is None for r in self._running.values()):
                signum = self._stop_requested()
                if signum is not None and stopping_since is None:
                    code = 128 + signum
                    self._print(SYSTEM, f"{signal.Signals(signum).name} received")
                    stopping_since = self._terminate_all()
                try:
                    name, line = self._events.get(timeout=0.1)
                except queue.Empty:
                    pass
                else:
                    running = self._running[name]
                    if line is not None:
                        self._print(name, line, running.colour)
                    else:
                        running.returncode = running.process.returncode
                        self._print(SYSTEM, f"{name} stopped (rc={running.returncode})")
                        if code is None:
                            code = running.returncode
                        if stopping_since is None:
                            stopping_since = self._terminate_all()
                waited = time.monotonic() - stopping_since if stopping_since is not None else 0.0
                if not killed and stopping_since is not None and waited > self._kill_wait:
                    self._kill_all()
                    killed = True
        finally:
            self._drain()
            self.kill_leftovers()
        return code or 0

    def _terminate_all(self) -> float:
        for running in self._running.values():
            if running.returncode is None:
                pid = running.process.pid
                self._print(SYSTEM, f"sending SIGTERM to {running.name} (pid {pid})")
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGTERM)
        return time.monotonic()

    def _kill_all(self) -> None:
        for running in self._running.values():
            if running.returncode is None:
                pid = running.process.pid
                self._print(SYSTEM, f"sending SIGKILL to {running.name} (pid {pid})")
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)

    def _drain(self) -> None:
        """Print the output that arrived after the last stop was seen."""
        while True:
            try:
                name, line = self._events.get_nowait()
            except queue.Empty:
                return
            if line is not None:
                self._print(name, line, self._running[name].colour)

    def kill_leftovers(self) -> None:
        """SIGKILL whatever still lives in the process groups started here (orphans of a crash).

        Each group's id is its first process's pid, which the kernel does not
        hand out again while any member of the group lives.
        """
        for running in self._running.values():
            pgid = running.process.pid
            try:
                os.killpg(pgid, 0)
            except (ProcessLookupError, PermissionError):
                continue
            self._print(SYSTEM, f"killing what is left of {running.name} (process group {pgid})")
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
