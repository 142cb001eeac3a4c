"""SIGINT and SIGTERM during start-up: remembered, acted on between steps."""

from __future__ import annotations

import signal

from workers.launcher.console import say


class Stopped(Exception):
    """Raised between start-up steps once SIGINT or SIGTERM has arrived."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class SignalLatch:
    """Remembers SIGINT/SIGTERM during start-up, so no step is cut in half.

    A step interrupted midway (pg_ctl start, a migration) could leave a server
    running that nobody stops; the latch lets the step finish, then
    ``check`` raises and the normal unwinding stops what was started.
    """

    def __init__(self) -> None:
        self.received: int | None = None

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._note)

    def _note(self, signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if self.received is None:
            self.received = signum
            say(f"{name} received: stopping")
        else:
            say(f"{name} received again: still stopping, please wait")

    def check(self) -> None:
        if self.received is not None:
            raise Stopped(self.received)
