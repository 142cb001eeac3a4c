"""The scheduler process: runs the relay and the platform's periodic jobs, and nothing heavy.

Operators may run two of these (a standby, or by mistake); only the holder
of a PostgreSQL advisory lock schedules anything, so each periodic job fires
once. The lock lives on a dedicated connection, checked every second: if that
connection dies (the database restarted, a failover), the lock went with it,
so this process stops scheduling, waits for the database with backoff, and
competes for the lead again; it never exits because the database blinked.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import psycopg
import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from domain.adapters.bootstrap import Services, build_services
from domain.adapters.jobs.messaging import build_broker
from domain.adapters.postgres import connection_options
from domain.adapters.settings_check import settings_or_exit
from domain.catalogue import JOB_KINDS
from domain.errors import DatabaseUnavailable
from domain.jobs.model import Every, JobKind
from domain.jobs.ports import Submission
from domain.logging import configure_logging, exception_fields
from domain.settings import Settings
from workers.handlers import bind_plan
from workers.outages import DATABASE
from workers.relay import Relay

log = structlog.get_logger(__name__)

LEADER_LOCK_KEY = 0x4850_5343  # "HPSC": one scheduler leader per database
STANDBY_POLL_SECONDS = 2.0
LEADER_CHECK_SECONDS = 1.0
RECONNECT_FIRST_WAIT_SECONDS = 0.5
RECONNECT_MAX_WAIT_SECONDS = 5.0


def schedule_periodic_jobs(scheduler: AsyncIOScheduler, services: Services) -> None:
    """The relay, and every periodic kind of the catalogue. Each run only enqueues or does
    bookkeeping in SQL; each reports a database outage once and is simply tried again."""
    settings = services.settings
    relay = Relay(services.store, services.sender, settings)
    scheduler.add_job(
        relay.run_quietly,
        "interval",
        seconds=settings.relay_interval_seconds,
        id="relay",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,
    )
    dependencies = services.dependencies()
    now = datetime.now(UTC)
    for kind in JOB_KINDS.values():
        if kind.periodic is None:
            continue
        when = kind.periodic.when
        if isinstance(when, Every):
            trigger: dict[str, object] = {
                "trigger": "interval",
                "seconds": getattr(settings, when.setting),
            }
        else:  # daily, and once on taking the lead: keyed by day, so one job per day
            trigger = {"trigger": "cron", "hour": when.hour, "minute": when.minute}
            trigger["next_run_time"] = now
        scheduler.add_job(
            plan_quietly,
            args=[kind, bind_plan(kind, dependencies)],
            id=kind.actor_name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
            **trigger,
        )


async def plan_quietly(kind: JobKind, plan: Callable[[], Awaitable[object]]) -> None:
    """One planner run: an enqueued job is logged, a database outage reported once."""
    started = time.monotonic()
    try:
        submission = await plan()
    except DatabaseUnavailable as exc:  # the next run tries again
        DATABASE.failed(exc, attempt_started=started)
        return
    except Exception as exc:
        log.warning(f"{kind.actor_name}_enqueue_failed", **exception_fields(exc))
        return
    DATABASE.answered(attempt_started=started)
    if isinstance(submission, Submission) and submission.created:
        log.info(f"{kind.actor_name}_enqueued", job_id=str(submission.job.id))


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True if asked to stop meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
        return True
    except TimeoutError:
        return False


async def _become_leader(conn: psycopg.AsyncConnection, stop: asyncio.Event) -> bool:
    standing_by = False
    while True:
        cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK_KEY,))
        row = await cursor.fetchone()
        if row and row[0]:
            return True
        if not standing_by:
            log.info("scheduler_standby")
            standing_by = True
        if await _wait(stop, STANDBY_POLL_SECONDS):
            return False


async def _lead(
    settings: Settings, scheduler: AsyncIOScheduler, services: Services, stop: asyncio.Event
) -> None:
    """Take the lock, schedule while it is held; returns on ``stop``, raises if the lock's
    connection is lost (the lock went with it)."""
    async with await psycopg.AsyncConnection.connect(
        settings.database_url,
        autocommit=True,
        **connection_options(settings.db_statement_timeout_seconds),
    ) as lock_conn:
        DATABASE.answered()
        if not await _become_leader(lock_conn, stop):
            return
        # The pool's idle connections may date from before a database restart: drop the
        # broken ones now, so the first runs do not each report the outage over again.
        await services.pool.check()
        log.info("scheduler_leading")
        schedule_periodic_jobs(scheduler, services)
        try:
            while not await _wait(stop, LEADER_CHECK_SECONDS):
                await lock_conn.execute("SELECT 1")  # raises if the lock's session is gone
        except Exception:
            log.warning("scheduler_lead_lost", note="the lock's session ended; leading again later")
            raise
        finally:
            scheduler.remove_all_jobs()


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Lead (or stand by) until ``stop``. The database going away ends the lead, not the
    process: the scheduler waits for it, with backoff, and competes for the lead again."""
    services = build_services(settings, build_broker(settings.redis_url), pool_max_size=4)
    await services.open()
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.start()
    backoff = RECONNECT_FIRST_WAIT_SECONDS
    try:
        while not stop.is_set():
            try:
                await _lead(settings, scheduler, services, stop)
                backoff = RECONNECT_FIRST_WAIT_SECONDS
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                DATABASE.failed(exc)
                await _wait(stop, backoff)
                backoff = min(backoff * 2, RECONNECT_MAX_WAIT_SECONDS)
    finally:
        scheduler.shutdown(wait=False)
        await services.close()
        log.info("scheduler_stopped")


async def _main() -> None:
    settings = settings_or_exit()
    configure_logging(settings.log_level, settings.log_format)
    # APScheduler logs two lines per run at INFO ("Running job", "executed successfully"):
    # routine runs stay quiet; each run logs its own failures, a missed run is a WARNING.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await serve(settings, stop)


def main() -> None:
    asyncio.run(_main())


if __name__ == "__main__":
    main()
