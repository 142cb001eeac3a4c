"""The monitoring ports on PostgreSQL and Redis: readiness probes, job and queue figures."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from dramatiq.brokers.redis import RedisBroker
from psycopg_pool import AsyncConnectionPool

from domain.adapters.jobs.metrics import job_figures
from domain.adapters.jobs.queue_depth import queue_depths
from domain.adapters.probes import probe_postgres, probe_redis
from domain.monitoring.ports import DurationHistogram, JobCount, QueueDepth


class PlatformFigures:
    def __init__(self, pool: AsyncConnectionPool, broker: RedisBroker) -> None:
        self._pool = pool
        self._broker = broker

    async def job_figures(self) -> tuple[list[JobCount], list[DurationHistogram]]:
        return await job_figures(self._pool)

    async def queue_depths(self, queues: Iterable[str]) -> list[QueueDepth]:
        broker = self._broker
        return await asyncio.to_thread(queue_depths, broker.client, list(queues), broker.namespace)


class PlatformReadiness:
    def __init__(self, pool: AsyncConnectionPool, broker: RedisBroker) -> None:
        self._pool = pool
        self._broker = broker

    async def check(self, timeout: float) -> dict[str, str]:
        postgres, redis = await asyncio.gather(
            probe_postgres(self._pool, timeout), probe_redis(self._broker.client, timeout)
        )
        return {"postgres": postgres, "redis": redis}
