"""What operators watch: readiness of the dependencies, and job and queue figures.

Part of the shared kernel: the API's health and metrics endpoints read these
through two ports the composition root fills (domain/adapters/monitoring.py),
so no controller reaches PostgreSQL or Redis itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import msgspec

OK = "ok"


class JobCount(msgspec.Struct, frozen=True):
    kind: str
    status: str
    count: int


class DurationHistogram(msgspec.Struct, frozen=True):
    """Cumulative: ``buckets[i]`` counts the jobs that took at most ``bounds[i]`` seconds."""

    kind: str
    status: str
    bounds: tuple[float, ...]
    buckets: tuple[int, ...]
    count: int
    total_seconds: float


class QueueDepth(msgspec.Struct, frozen=True):
    queue: str
    ready: int  # waiting for a worker to take them
    in_flight: int  # taken by a worker, not yet acked
    delayed: int  # scheduled for later (job-level retries)
    dead: int  # dead-lettered by Dramatiq


class JobFigures(Protocol):
    """Figures computed from the rows (and Redis) at each scrape: every replica reports the same."""

    async def job_figures(self) -> tuple[list[JobCount], list[DurationHistogram]]:
        """Jobs by kind and status, and the durations of the finished ones, read together."""
        ...

    async def queue_depths(self, queues: Iterable[str]) -> list[QueueDepth]: ...


class Readiness(Protocol):
    async def check(self, timeout: float) -> dict[str, str]:
        """Each dependency's answer (``ok``, ``timeout`` or an error's type), within ``timeout``."""
        ...
