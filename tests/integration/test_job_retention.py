"""Job history retention: old finished jobs go with their events, nothing else does, and a
batch neither waits for nor holds up the jobs' hot path."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from psycopg.rows import dict_row

from domain.adapters.job_history.store import (
    PgJobHistory,
    keeping_references,
    prune_on,
    prune_statement,
)
from domain.job_history.jobs import JOB_RETENTION, retention_job
from domain.job_history.retention import drop_finished_before
from tests.support.api import job_rows
from tests.support.handlers import run_handler
from tests.support.rows import rows
from workers.handlers import bind_plan
from workers.scheduler import plan_quietly, schedule_periodic_jobs

NOW = datetime.now(UTC)
BEFORE = NOW - timedelta(days=30)
OLD = NOW - timedelta(days=45)
RECENT = NOW - timedelta(days=2)


def add_job(
    conn: psycopg.Connection,
    name: str,
    path: list[str],
    created_at: datetime,
    finished_at: datetime | None = None,
) -> uuid.UUID:
    """A job created at ``created_at`` that went through ``path`` (its events written by the
    trigger, as the store's moves write them)."""
    job_id = uuid.uuid4()
    conn.execute(
        """
        INSERT INTO jobs (id, kind, queue, status, payload, max_attempts, owner_id,
                          run_after, created_at, updated_at)
        VALUES (%s, 'system.noop', 'default', 'queued', %s, 2, 'owner', %s, %s, %s)
        """,
        (job_id, psycopg.types.json.Jsonb({"name": name}), created_at, created_at, created_at),
    )
    for status in path:
        conn.execute(
            "UPDATE jobs SET status = %s, attempts = attempts + (%s = 'running')::int,"
            " finished_at = %s WHERE id = %s",
            (status, status, finished_at if status in FINAL else None, job_id),
        )
    return job_id


FINAL = ("succeeded", "failed", "cancelled")
DONE = ["running", "succeeded"]


@pytest.fixture
def history_db(database_url: str) -> dict[str, uuid.UUID]:
    """Jobs of every kind of age and fate, and a table of the test's that keeps some."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept_by_test (job_id uuid NOT NULL REFERENCES jobs (id))")
        jobs = {
            "old_succeeded": add_job(conn, "a", DONE, OLD, OLD),
            "old_failed": add_job(conn, "b", ["running", "failed"], OLD, OLD),
            "old_cancelled": add_job(conn, "c", ["cancelled"], OLD, OLD),
            "old_emailed": add_job(conn, "d", DONE, OLD, OLD),
            "old_running": add_job(conn, "e", ["running"], OLD),
            "old_queued": add_job(conn, "f", [], OLD),
            "old_retrying": add_job(conn, "g", ["running", "retrying"], OLD),
            "old_but_finished_late": add_job(conn, "h", DONE, OLD, RECENT),
            "old_referenced": add_job(conn, "i", DONE, OLD, OLD),
            "recent_succeeded": add_job(conn, "j", DONE, RECENT, RECENT),
        }
        for i in range(7):  # more old finished ones than one small batch holds
            jobs[f"old_extra_{i}"] = add_job(conn, f"x{i}", DONE, OLD + timedelta(hours=i), OLD)
        conn.execute("INSERT INTO kept_by_test VALUES (%s)", (jobs["old_referenced"],))
        conn.execute(
            """
            INSERT INTO email_messages (id, job_id, to_address_sealed, to_address_key_id,
                                        template, data_sealed, data_key_id, message_id,
                                        created_at)
            VALUES (%s, %s, 'sealed', 'test-k1', 'welcome', 'sealed', 'test-k1', %s, %s)
            """,
            (uuid.uuid4(), jobs["old_emailed"], f"<{uuid.uuid4()}@test>", OLD),
        )
    return jobs


def gone(jobs: dict[str, uuid.UUID]) -> set[str]:
    return {
        name
        for name, job_id in jobs.items()
        if name.startswith(("old_succeeded", "old_failed", "old_cancelled", "old_emailed"))
        or name.startswith("old_extra")
    }


def events_by_job(database_url: str) -> dict[uuid.UUID, int]:
    found = rows(database_url, "SELECT job_id, count(*) AS n FROM job_events GROUP BY job_id")
    return {row["job_id"]: row["n"] for row in found}


async def test_the_schema_says_which_references_keep_a_job(services, database_url) -> None:
    async with services.pool.connection() as conn:
        found = await keeping_references(conn)
    assert {"uploads", "records", "documents", "scans"} <= {table for table, _ in found}
    assert not {"job_events", "email_messages"} & {table for table, _ in found}  # they cascade


async def test_retention_drops_old_finished_jobs_with_their_events_and_nothing_else(
    services, database_url, history_db
) -> None:
    jobs = history_db
    events_before = events_by_job(database_url)
    history = PgJobHistory(services.pool)

    counts = await drop_finished_before(history, BEFORE, batch=3)

    remaining = {row["id"] for row in job_rows(database_url)}
    expected_gone = gone(jobs)
    assert {name for name, job_id in jobs.items() if job_id not in remaining} == expected_gone
    assert counts == {"walked": len(jobs) - 1, "dropped": len(expected_gone)}  # not the recent
    events_after = events_by_job(database_url)
    assert {job_id for job_id in events_after} == remaining
    assert all(events_after[job_id] == events_before[job_id] for job_id in remaining)
    assert rows(database_url, "SELECT * FROM email_messages") == []  # went with its job
    assert len(rows(database_url, "SELECT * FROM kept_by_test")) == 1

    again = await drop_finished_before(history, BEFORE, batch=3)
    assert again == {"walked": len(jobs) - 1 - len(expected_gone), "dropped": 0}


async def test_a_job_someone_holds_is_skipped_not_waited_for(
    services, database_url, history_db
) -> None:
    jobs = history_db
    with psycopg.connect(database_url) as holder:  # an operator's resubmit, say, in progress
        holder.execute("SELECT 1 FROM jobs WHERE id = %s FOR UPDATE", (jobs["old_failed"],))
        counts = await asyncio.wait_for(
            drop_finished_before(PgJobHistory(services.pool), BEFORE, batch=4), timeout=10
        )
        holder.rollback()

    remaining = {row["id"] for row in job_rows(database_url)}
    assert jobs["old_failed"] in remaining
    assert counts["dropped"] == len(gone(jobs)) - 1


async def test_a_batch_in_flight_holds_up_no_insert_or_transition(
    services, database_url, history_db
) -> None:
    jobs = history_db
    async with services.pool.connection() as conn:
        statement = prune_statement(await keeping_references(conn))
        async with conn.transaction():
            step = await prune_on(conn, statement, BEFORE, None, 100)
            assert step.dropped == len(gone(jobs))
            # The batch's locks are held until this block ends. Meanwhile, the hot path:
            with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as other:
                other.execute("SET lock_timeout = '1s'")
                fresh = add_job(other, "new", [], NOW)
                add_job(other, "new-done", DONE, NOW, NOW)
                for name in ("old_queued", "old_retrying"):  # claimed, then done
                    other.execute("UPDATE jobs SET status = 'running' WHERE id = %s", (jobs[name],))
                other.execute(
                    "UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE id = %s",
                    (jobs["old_running"],),
                )
                other.execute("UPDATE jobs SET status = 'running' WHERE id = %s", (fresh,))
                other.execute("UPDATE jobs SET heartbeat_at = now() WHERE id = %s", (fresh,))

    statuses = {row["id"]: row["status"] for row in job_rows(database_url)}
    assert statuses[jobs["old_running"]] == "succeeded"
    assert statuses[fresh] == "running"


def seconds_left_in_day(at: datetime) -> float:
    day = at.astimezone(UTC).date()
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    return (midnight - at).total_seconds()


async def test_the_days_job_is_planned_once_and_drops_what_it_names(
    clocked_services, clock, database_url, history_db
) -> None:
    services = clocked_services
    plan = bind_plan(JOB_RETENTION, services.dependencies())
    await plan_quietly(JOB_RETENTION, plan)
    # later the same day, or a second scheduler: the clock starts at the real time, so an
    # hour later would be tomorrow after 23:00 UTC (and tomorrow's job is due then)
    clock.advance(seconds_left_in_day(clock.now()) / 2)
    await plan_quietly(JOB_RETENTION, plan)

    [job] = [row for row in job_rows(database_url) if row["kind"] == JOB_RETENTION.name]
    day = clock.now().astimezone(UTC).date()
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    cutoff = midnight - timedelta(days=services.settings.job_retention_days)
    assert job["status"] == "queued" and job["idempotency_key"] == f"daily:{day.isoformat()}"
    assert datetime.fromisoformat(job["payload"]["before"]) == cutoff
    assert retention_job(clock.now(), 30).payload == job["payload"]

    stored = await services.store.get(job["id"])
    result = await run_handler(JOB_RETENTION, stored, services)
    assert result is not None and result["dropped"] == len(gone(history_db))


async def test_the_scheduler_holds_a_daily_entry(services) -> None:
    scheduler = AsyncIOScheduler(timezone=UTC)
    schedule_periodic_jobs(scheduler, services)
    entry = scheduler.get_job("jobs_retention")
    assert entry is not None
    assert entry.func is plan_quietly and entry.args[0] is JOB_RETENTION
    assert "hour='0'" in str(entry.trigger) and "minute='50'" in str(entry.trigger)
