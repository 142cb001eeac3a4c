"""The scheduler process: runs the relay and the platform's periodic jobs, and nothing heavy.

Operators may run two of these (a standby, or by mistake); only the holder
of a PostgreSQL advisory lock schedules anything, so each periodic job fires
once. The lock lives on a dedicated connection: if that connection dies, the
lock is released by PostgreSQL and this process exits so its supervisor can
restart it as a standby.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime

import psycopg
import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from domain.adapters.bootstrap import Services, build_services
from domain.adapters.messaging import build_broker
from domain.adapters.postgres import connection_options
from domain.logging import configure_logging
from domain.settings import Settings, load_settings
from workers.relay import Relay
from workers.upkeep import enqueue_anchor_run, enqueue_audit_partitions, enqueue_content_unpin

log = structlog.get_logger(__name__)

LEADER_LOCK_KEY = 0x4850_5343  # "HPSC": one scheduler leader per database
STANDBY_POLL_SECONDS = 2.0
LEADER_CHECK_SECONDS = 5.0


def schedule_periodic_jobs(scheduler: AsyncIOScheduler, services: Services) -> None:
    """Every periodic job the platform runs. Each only enqueues or does bookkeeping in SQL."""
    relay = Relay(services.store, services.sender, services.settings)
    scheduler.add_job(
        relay.run_once,
        "interval",
        seconds=services.settings.relay_interval_seconds,
        id="relay",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(  # daily, and once on taking the lead: one job per day whatever happens
        enqueue_audit_partitions,
        "cron",
        args=[services],
        hour=0,
        minute=10,
        next_run_time=datetime.now(UTC),
        id="audit_partitions",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,
    )
    scheduler.add_job(
        enqueue_anchor_run,
        "interval",
        args=[services],
        seconds=services.settings.anchor_interval_seconds,
        id="anchor_batch",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        enqueue_content_unpin,
        "cron",
        args=[services],
        hour=0,
        minute=20,
        next_run_time=datetime.now(UTC),
        id="content_unpin",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,
    )


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True if asked to stop meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
        return True
    except TimeoutError:
        return False


async def _become_leader(conn: psycopg.AsyncConnection, stop: asyncio.Event) -> bool:
    while True:
        cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK_KEY,))
        row = await cursor.fetchone()
        if row and row[0]:
            return True
        log.info("scheduler_standby")
        if await _wait(stop, STANDBY_POLL_SECONDS):
            return False


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    services = build_services(settings, build_broker(settings.redis_url), pool_max_size=4)
    await services.open()
    scheduler = AsyncIOScheduler(timezone=UTC)
    try:
        async with await psycopg.AsyncConnection.connect(
            settings.database_url,
            autocommit=True,
            **connection_options(settings.db_statement_timeout_seconds),
        ) as lock_conn:
            if not await _become_leader(lock_conn, stop):
                return
            log.info("scheduler_leading")
            schedule_periodic_jobs(scheduler, services)
            scheduler.start()
            while not await _wait(stop, LEADER_CHECK_SECONDS):
                await lock_conn.execute("SELECT 1")  # raises if the lock's session is gone
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        await services.close()
        log.info("scheduler_stopped")


async def _main() -> None:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await serve(settings, stop)


def main() -> None:
    asyncio.run(_main())


if __name__ == "__main__":
    main()
