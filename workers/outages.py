"""Saying once that a dependency went away, and once that it is back.

While PostgreSQL or Redis restarts, every heartbeat, relay pass and job
write of a process fails, several times a second. Each of them reports to the
dependency's ``Outage`` here instead of logging: the first failure logs that
the process is waiting, the first success after it logs that it is back and
how long it waited. One instance per dependency per process, all used from
one event loop (a worker's, the scheduler's).

An attempt's start time, when the caller gives it, keeps one outage one: a
failure of an attempt begun before the last return waited on the old outage,
and a success of an attempt begun before the outage was reported got through
before it (a server shutting down refuses new connections a moment before it
ends the open ones, more than a second under load). Neither says anything new.
"""

from __future__ import annotations

import time

import structlog

log = structlog.get_logger(__name__)


class Outage:
    def __init__(self, dependency: str) -> None:
        self.dependency = dependency
        self._since: float | None = None
        self._back_at = float("-inf")

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, exc: BaseException, *, attempt_started: float | None = None) -> None:
        """``attempt_started`` (a ``time.monotonic()`` value): an attempt begun before the
        dependency was last reported back, that failed only now (it waited on the old
        outage: a pool's connection wait, say), tells nothing new and is not reported."""
        if attempt_started is not None and attempt_started < self._back_at:
            return
        if self._since is None:
            self._since = time.monotonic()
            log.warning(
                "dependency_unavailable",
                dependency=self.dependency,
                error_type=type(exc).__name__,
                note="waiting for it; work is retried until it is back",
            )

    def answered(self, *, attempt_started: float | None = None) -> None:
        """``attempt_started``: an attempt begun before the outage was reported, that
        succeeded, does not end it (the next attempt will say)."""
        if self._since is None or (attempt_started is not None and attempt_started < self._since):
            return
        self._back_at = time.monotonic()
        waited = self._back_at - self._since
        self._since = None
        log.info("dependency_back", dependency=self.dependency, waited_seconds=round(waited, 1))


DATABASE = Outage("postgres")
MESSAGE_BROKER = Outage("redis")
