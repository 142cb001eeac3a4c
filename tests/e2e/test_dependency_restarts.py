"""PostgreSQL and Redis restart under load: no e-mail sent twice, no job lost, no process down.

These run the platform's real processes against a PostgreSQL and a Redis of
the test's own (tests/support/restartable.py) that are stopped and started
while e-mail commands flow, with an SMTP server (aiosmtpd) that takes 150 ms
per message and counts what it receives by Message-ID.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from domain.settings import Settings
from tests.conftest import make_settings
from tests.support.databases import alembic_config, create_database
from tests.support.email_load import deliveries, post_emails
from tests.support.jobs import async_wait_until, jobs_of_kind, once_a_day
from tests.support.processes import (
    PlatformProcess,
    platform_env,
    start_api,
    start_launcher,
    start_scheduler,
    start_worker,
)
from tests.support.restartable import (
    RestartablePostgres,
    RestartableRedis,
    restartable_postgres,
    restartable_redis,
)
from tests.support.servers import free_port
from tests.support.smtp import RecordingHandler, SmtpServer, running_smtp_server

pytestmark = pytest.mark.slow

EMAILS = 200
SMTP_SECONDS_PER_MESSAGE = 0.15
SMTP_SECONDS_IN_FLIGHT = 0.6
SHORT_OUTAGE_SECONDS = 5.0


@pytest.fixture
def outside_postgres() -> Iterator[RestartablePostgres]:
    with restartable_postgres() as server:
        yield server


@pytest.fixture
def outside_redis() -> Iterator[RestartableRedis]:
    with restartable_redis() as server:
        yield server


@pytest.fixture
def slow_smtp() -> Iterator[SmtpServer]:
    handler = RecordingHandler(delay_seconds=SMTP_SECONDS_PER_MESSAGE)
    with running_smtp_server(handler) as server:
        yield server


@pytest.fixture
def slower_smtp() -> Iterator[SmtpServer]:
    """Sends slow enough that jobs are still in a worker's hands when the database goes: with
    0.15 s, on a loaded machine the workers kept up with the API and sat idle through the
    outage (no heartbeat or write to meet it), so nothing showed that they rode one out."""
    handler = RecordingHandler(delay_seconds=SMTP_SECONDS_IN_FLIGHT)
    with running_smtp_server(handler) as server:
        yield server


def migrated_database(server: RestartablePostgres) -> str:
    from alembic import command

    url = server.url_of(create_database(server.admin_url))
    command.upgrade(alembic_config(url), "head")
    return url


def platform_settings(
    database_url: str, redis_url: str, data_dir: Path, smtp: SmtpServer, **overrides: object
) -> Settings:
    """As an operator runs it: a stale window far longer than the outage, unless overridden."""
    fields: dict[str, object] = {
        "smtp_url": smtp.url,
        "job_heartbeat_seconds": 1.0,
        "job_stale_after_seconds": 30.0,
        "rate_limit_user_per_minute": 1_000_000,
    }
    return make_settings(database_url, redis_url, data_dir, **{**fields, **overrides})


def email_jobs(database_url: str) -> list[dict]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM jobs WHERE kind = 'email.send'").fetchall()


def in_hand(database_url: str) -> int:
    """E-mail jobs a worker is running now."""
    with psycopg.connect(database_url) as conn:
        [(count,)] = conn.execute(
            "SELECT count(*) FROM jobs WHERE kind = 'email.send' AND status = 'running'"
        ).fetchall()
    return count


def taken_back(database_url: str) -> set[str]:
    """Jobs the relay took back from a worker it presumed lost."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT DISTINCT job_id FROM job_events WHERE error->>'code' = 'worker_lost'"
        ).fetchall()
    return {str(row[0]) for row in rows}


def histories(database_url: str, job_ids: set[str]) -> dict[str, list[tuple]]:
    """What happened to these jobs, for an assertion's message."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT job_id, from_status, to_status, attempt, error->>'code', at FROM job_events"
            " WHERE job_id = ANY(%s::uuid[]) ORDER BY id",
            (list(job_ids),),
        ).fetchall()
    found: dict[str, list[tuple]] = collections.defaultdict(list)
    for job_id, *event in rows:
        found[str(job_id)].append(tuple(event))
    return dict(found)


async def all_finished(database_url: str, count: int, timeout: float = 180.0) -> list[dict]:
    def finished() -> bool:
        try:
            jobs = email_jobs(database_url)
        except psycopg.OperationalError:
            return False
        return len(jobs) == count and all(
            job["status"] in ("succeeded", "failed", "cancelled") for job in jobs
        )

    await async_wait_until(lambda: asyncio.to_thread(finished), timeout=timeout, interval=0.5)
    return email_jobs(database_url)


def when_accepted(count: int) -> tuple[asyncio.Event, Callable[[int], None]]:
    reached = asyncio.Event()

    def note(accepted: int) -> None:
        if accepted >= count:
            reached.set()

    return reached, note


async def outage(stop: Callable[[], None], start: Callable[[], None], seconds: float) -> None:
    await asyncio.to_thread(stop)
    await asyncio.sleep(seconds)
    await asyncio.to_thread(start)


def assert_each_job_delivered_once(jobs: list[dict], smtp: SmtpServer) -> None:
    assert {job["status"] for job in jobs} == {"succeeded"}
    counts = deliveries(smtp.handler)
    sent = {job["result"]["messageId"] for job in jobs}
    assert set(counts) == sent
    repeated = {message_id: n for message_id, n in counts.items() if n > 1}
    assert repeated == {}, f"delivered more than once: {repeated}"


def assert_all_running(processes: list[PlatformProcess]) -> None:
    for process in processes:
        assert process.process.poll() is None, f"{process.name}:\n{process.output()[-3000:]}"


async def test_a_database_restart_under_load_repeats_no_email_and_stops_no_process(
    outside_postgres, redis_url, slower_smtp, processes, log_dir, tmp_path
) -> None:
    slow_smtp = slower_smtp
    database_url = migrated_database(outside_postgres)
    settings = platform_settings(database_url, redis_url, tmp_path / "data", slow_smtp)
    ports = [free_port(), free_port()]
    for port in ports:
        processes.append(start_api(settings, log_dir, port))
    worker = start_worker(settings, log_dir, processes=2, threads=8)
    processes.extend([worker, start_scheduler(settings, log_dir)])
    # The outage must meet the workers with jobs in hand (their heartbeats, their outcomes):
    # workers still booting when it came (a loaded machine, once in CI), or idle through it,
    # have nothing to show that they rode one out.
    await async_wait_until(lambda: worker.output().count("worker_process_ready") >= 2, timeout=90)

    reached, note = when_accepted(EMAILS // 4)
    load = asyncio.create_task(post_emails(ports, EMAILS, key_prefix="blip", on_accepted=note))
    await asyncio.wait_for(reached.wait(), timeout=60)
    await async_wait_until(lambda: in_hand(database_url) >= 2, timeout=60, interval=0.02)
    await outage(outside_postgres.stop, outside_postgres.start, SHORT_OUTAGE_SECONDS)
    report = await load
    jobs = await all_finished(database_url, EMAILS)

    assert set(report.statuses) <= {202, 503}, report.statuses  # never a 500
    assert report.statuses[503] > 0  # the outage did meet the commands
    assert len(report.jobs_by_key) == EMAILS
    assert all(len(ids) == 1 for ids in report.jobs_by_key.values())  # one job per key
    assert {str(job["id"]) for job in jobs} == report.job_ids
    assert_each_job_delivered_once(jobs, slow_smtp)
    assert taken_back(database_url) == set()  # the workers rode it out; the relay took nothing
    assert_all_running(processes)
    worker_log = worker.output()
    assert "dependency_unavailable" in worker_log and "dependency_back" in worker_log


async def test_a_database_outage_longer_than_the_stale_window_repeats_only_what_the_readme_says(
    outside_postgres, redis_url, slow_smtp, processes, log_dir, tmp_path
) -> None:
    """README, "What may repeat": an e-mail handed to SMTP while the database stays away longer
    than JOB_STALE_AFTER_SECONDS may be sent once more, with the same Message-ID, by the attempt
    the relay starts; nothing else repeats and no job is lost."""
    database_url = migrated_database(outside_postgres)
    stale_after = 2.0
    settings = platform_settings(
        database_url,
        redis_url,
        tmp_path / "data",
        slow_smtp,
        job_heartbeat_seconds=0.5,
        job_stale_after_seconds=stale_after,
    )
    port = free_port()
    processes.append(start_api(settings, log_dir, port))
    processes.append(start_worker(settings, log_dir, processes=2, threads=8))
    processes.append(start_scheduler(settings, log_dir))
    report = await post_emails([port], EMAILS, key_prefix="long")

    await async_wait_until(lambda: len(slow_smtp.messages) >= EMAILS // 4, timeout=60)
    await outage(outside_postgres.stop, outside_postgres.start, 4 * stale_after)
    jobs = await all_finished(database_url, EMAILS)

    assert {job["status"] for job in jobs} == {"succeeded"}  # none lost, none failed
    assert {str(job["id"]) for job in jobs} == report.job_ids
    counts = deliveries(slow_smtp.handler)
    job_of_message = {job["result"]["messageId"]: str(job["id"]) for job in jobs}
    assert set(counts) == set(job_of_message)  # every e-mail arrived
    repeated = {job_of_message[m] for m, n in counts.items() if n > 1}
    assert max(counts.values()) <= 2
    assert repeated <= taken_back(database_url), histories(database_url, repeated)
    assert_all_running(processes)


async def test_a_redis_restart_under_load_loses_and_repeats_nothing(
    settings, outside_redis, slow_smtp, processes, log_dir, tmp_path
) -> None:
    configured = platform_settings(
        settings.database_url, outside_redis.url, tmp_path / "data", slow_smtp
    )
    port = free_port()
    processes.append(start_api(configured, log_dir, port))
    processes.append(start_worker(configured, log_dir, processes=2, threads=8))
    processes.append(start_scheduler(configured, log_dir))

    reached, note = when_accepted(EMAILS // 4)
    load = asyncio.create_task(post_emails([port], EMAILS, key_prefix="redis", on_accepted=note))
    await asyncio.wait_for(reached.wait(), timeout=60)
    await outage(outside_redis.stop, outside_redis.start, 3.0)
    report = await load
    jobs = await all_finished(settings.database_url, EMAILS)

    assert set(report.statuses) == {202}  # commands only need the database
    assert {str(job["id"]) for job in jobs} == report.job_ids
    assert_each_job_delivered_once(jobs, slow_smtp)
    assert_all_running(processes)


async def test_under_the_launcher_a_database_and_a_redis_restart_stop_nothing(
    outside_postgres, outside_redis, slow_smtp, processes, log_dir, tmp_path
) -> None:
    """``./run`` with DATABASE_URL and REDIS_URL set to outside servers that restart."""
    database_url = migrated_database(outside_postgres)
    settings = platform_settings(database_url, outside_redis.url, tmp_path / "data", slow_smtp)
    port = free_port()
    launcher = start_launcher(
        platform_env(settings, PORT=str(port), WORKER_PROCESSES="2", WORKER_THREADS="8"),
        log_dir,
        port,
    )
    processes.append(launcher)

    reached, note = when_accepted(EMAILS // 4)
    load = asyncio.create_task(post_emails([port], EMAILS, key_prefix="run", on_accepted=note))
    await asyncio.wait_for(reached.wait(), timeout=60)
    await outage(outside_postgres.stop, outside_postgres.start, SHORT_OUTAGE_SECONDS)
    await outage(outside_redis.stop, outside_redis.start, 3.0)
    report = await load
    jobs = await all_finished(database_url, EMAILS)

    assert set(report.statuses) <= {202, 503}, report.statuses
    assert all(len(ids) == 1 for ids in report.jobs_by_key.values())
    assert_each_job_delivered_once(jobs, slow_smtp)
    assert_all_running(processes)
    said = launcher.output()
    stops = collections.Counter(
        line.split("|", 1)[1].split()[0]
        for line in said.splitlines()
        if "system" in line.split("|", 1)[0] and " stopped (" in line
    )
    assert stops == {}, said[-4000:]  # no process exited, none was restarted
    readiness = httpx.get(f"http://127.0.0.1:{port}/health/ready").json()
    assert readiness["status"] == "ready", readiness


async def test_the_scheduler_leads_again_after_a_database_restart(
    outside_postgres, redis_url, slow_smtp, processes, log_dir, tmp_path
) -> None:
    database_url = migrated_database(outside_postgres)
    settings = platform_settings(database_url, redis_url, tmp_path / "data", slow_smtp)
    scheduler = start_scheduler(settings, log_dir)
    processes.append(scheduler)
    await async_wait_until(lambda: "scheduler_leading" in scheduler.output(), timeout=30)

    await outage(outside_postgres.stop, outside_postgres.start, SHORT_OUTAGE_SECONDS)

    await async_wait_until(lambda: scheduler.output().count("scheduler_leading") == 2, timeout=30)
    said = scheduler.output()
    assert said.count('"dependency_unavailable"') == 1, said  # said once that it waits
    assert said.count('"dependency_back"') == 1, said  # and once that the database is back
    assert "scheduler_lead_lost" in said
    assert_all_running(processes)
    # It schedules again: the day's audit upkeep is found, not enqueued twice.
    await async_wait_until(lambda: once_a_day(jobs_of_kind(database_url, "audit.partitions")))
