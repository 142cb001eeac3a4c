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
* honcho stops everything when one process exits. Here a process that exits
  on its own is restarted, after a backoff that doubles with each exit in the
  last minute (``RestartPolicy``), once whatever is left of its process group
  is killed (the worker processes of a Dramatiq pool whose main process
  died). Everything is stopped only on a signal, or when one process keeps
  exiting (5 times within 60 s): a crash loop is a fault a restart cannot
  mend, and the launcher says which process and how it exited.
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
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from honcho.colour import get_colours
from honcho.environ import parse_procfile
from honcho.printer import Message, Printer

SYSTEM = "system"


def read_procfile(path: Path) -> dict[str, str]:
    return dict(parse_procfile(path.read_text()).processes)


@dataclass(frozen=True)
class RestartPolicy:
    """Restart a process that exited, unless it exited ``max_exits`` times in ``window_seconds``."""

    max_exits: int = 5
    window_seconds: float = 60.0
    first_delay_seconds: float = 1.0
    max_delay_seconds: float = 30.0

    def delay(self, recent_exits: int) -> float:
        return min(self.first_delay_seconds * 2 ** (recent_exits - 1), self.max_delay_seconds)


@dataclass
class _Running:
    name: str
    command: str
    process: subprocess.Popen[bytes]
    colour: str | None
    returncode: int | None = None
    exits: deque[float] = field(default_factory=deque)
    restart_at: float | None = None


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def launcher_code(returncode: int) -> int:
    """The launcher's exit code when a crash loop stops it: the process's own, if it gave one."""
    if returncode > 0:
        return returncode
    return 128 - returncode if returncode < 0 else 1


class Supervisor:
    """Starts processes, prints their output, restarts those that exit, stops them all on a
    signal or a crash loop.

    ``stop_requested`` is polled: the caller's signal handler only records
    the signal, and the loop here does the stopping outside the handler.
    """

    def __init__(
        self,
        stop_requested: Callable[[], int | None],
        kill_wait: float,
        printer: Printer | None = None,
        restart: RestartPolicy | None = None,
    ) -> None:
        self._stop_requested = stop_requested
        self._kill_wait = kill_wait
        self._printer = printer or Printer(sys.stdout)
        self._printer.width = len(SYSTEM)
        self._colours = get_colours()
        self._restart = restart or RestartPolicy()
        self._events: queue.Queue[tuple[str, subprocess.Popen[bytes], bytes | None]] = queue.Queue()
        self._running: dict[str, _Running] = {}
        self._pumps: list[threading.Thread] = []
        self._env: Mapping[str, str] = {}
        self._cwd = Path.cwd()

    def start(self, commands: Mapping[str, str], env: Mapping[str, str], cwd: Path) -> None:
        """Start each named command; if one cannot start, kill those already started."""
        self._printer.width = max(self._printer.width, *(len(name) for name in commands))
        self._env, self._cwd = dict(env), cwd
        try:
            for name, command in commands.items():
                self._running[name] = _Running(
                    name, command, self._spawn(name, command), next(self._colours)
                )
        except BaseException:
            self.kill_leftovers()
            raise

    def _spawn(self, name: str, command: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            command,
            shell=True,
            env=dict(self._env),
            cwd=self._cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._print(SYSTEM, f"{name} started (pid={process.pid})")
        pump = threading.Thread(target=self._pump, args=(name, process), daemon=True)
        pump.start()
        self._pumps.append(pump)
        threading.Thread(target=self._reap, args=(name, process), daemon=True).start()
        return process

    def _pump(self, name: str, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for line in iter(process.stdout.readline, b""):
            self._events.put((name, process, line))
        process.stdout.close()

    def _reap(self, name: str, process: subprocess.Popen[bytes]) -> None:
        process.wait()
        self._events.put((name, process, None))

    def _print(self, name: str, text: str | bytes, colour: str | None = None) -> None:
        now = datetime.datetime.now()
        self._printer.write(Message(type="line", data=text, time=now, name=name, colour=colour))

    def _alive(self) -> bool:
        return any(r.returncode is None or r.restart_at is not None for r in self._running.values())

    def run(self) -> int:
        """Supervise until a signal, or a crash loop, stops everything; then wait for the rest.

        Returns 128 + the signal's number when a signal stopped them, else the
        exit code of the process that kept crashing.
        """
        code: int | None = None
        stopping_since: float | None = None
        killed = False
        try:
            while self._alive():
                signum = self._stop_requested()
                if signum is not None and stopping_since is None:
                    code = 128 + signum
                    self._print(SYSTEM, f"{signal.Signals(signum).name} received")
                    stopping_since = self._terminate_all()
                if stopping_since is None:
                    self._restart_due()
                try:
                    name, process, line = self._events.get(timeout=0.1)
                except queue.Empty:
                    pass
                else:
                    running = self._running[name]
                    if line is not None:
                        self._print(name, line, running.colour)
                    elif process is running.process:
                        crash_code = self._exited(running, stopping=stopping_since is not None)
                        if crash_code is not None and stopping_since is None:
                            code = crash_code
                            stopping_since = self._terminate_all()
                waited = time.monotonic() - stopping_since if stopping_since is not None else 0.0
                if not killed and stopping_since is not None and waited > self._kill_wait:
                    self._kill_all()
                    killed = True
        finally:
            self.kill_leftovers()
            self._drain()
        return code or 0

    def _exited(self, running: _Running, *, stopping: bool) -> int | None:
        """Note that ``running`` exited; schedule its restart, or return the launcher's exit
        code when it keeps crashing."""
        returncode = running.returncode = running.process.returncode
        how = describe_exit(returncode)
        self._print(SYSTEM, f"{running.name} stopped ({how})")
        if stopping:
            return None
        self._kill_group(running)  # what it leaves behind must not outlive it
        now = time.monotonic()
        running.exits.append(now)
        while running.exits and now - running.exits[0] > self._restart.window_seconds:
            running.exits.popleft()
        recent = len(running.exits)
        window = f"{self._restart.window_seconds:g} s"
        if recent >= self._restart.max_exits:
            self._print(
                SYSTEM,
                f"{running.name} keeps crashing: it stopped {recent} times within {window} "
                f"(last: {how}); stopping everything",
            )
            return launcher_code(returncode)
        delay = self._restart.delay(recent)
        self._print(
            SYSTEM,
            f"{running.name} exited unexpectedly; restarting it in {delay:g} s "
            f"({recent} of {self._restart.max_exits} exits allowed within {window})",
        )
        running.restart_at = now + delay
        return None

    def _restart_due(self) -> None:
        now = time.monotonic()
        for running in self._running.values():
            if running.restart_at is not None and now >= running.restart_at:
                running.restart_at = None
                running.returncode = None
                running.process = self._spawn(running.name, running.command)

    def _kill_group(self, running: _Running) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(running.process.pid, signal.SIGKILL)

    def _terminate_all(self) -> float:
        for running in self._running.values():
            running.restart_at = None
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
        for pump in self._pumps:  # a process's last lines may still be in its pipe
            pump.join(timeout=1.0)
        while True:
            try:
                name, _, line = self._events.get_nowait()
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
