"""Monthly audit partitions: made ahead by a daily job, early arrivals moved out of DEFAULT."""

from __future__ import annotations

from datetime import UTC, date, datetime

import msgspec
import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from domain.adapters.audit import partitions as audit_partitions
from domain.adapters.audit.log import PgAuditLog
from domain.adapters.audit.partitions import add_months, partition_name
from domain.adapters.audit.store import PgAuditStore
from domain.audit.jobs import (
    AUDIT_CHAIN_PENDING,
    AUDIT_PARTITIONS,
    enqueue_partition_upkeep,
    partition_job,
)
from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock, SystemClock
from domain.errors import DatabaseUnavailable, PermanentFailure
from tests.support.api import job_rows
from tests.support.handlers import enqueue_audit_partitions, maintain_partitions, run_handler
from tests.support.rows import audit_events, chain_as_it_stands, partition_names, rows
from workers.handlers import bind_plan
from workers.scheduler import plan_quietly, schedule_periodic_jobs

FAR_MONTH = date(2031, 3, 1)
ALICE = AuditContext(actor_id="user-alice", actor_role="patient")


def where_events_live(database_url: str) -> dict[int, str]:
    found = rows(database_url, "SELECT seq, tableoid::regclass::text AS part FROM audit_events")
    return {row["seq"]: row["part"] for row in found}


def test_add_months_crosses_years() -> None:
    assert add_months(date(2030, 11, 1), 3) == date(2031, 2, 1)
    assert add_months(date(2030, 1, 1), 0) == date(2030, 1, 1)
    assert partition_name(date(2031, 2, 1)) == "audit_events_2031_02"


async def test_ensure_creates_missing_months_once(services, database_url) -> None:
    upkeep = await services.audit_partitions.ensure(FAR_MONTH, 3)

    names = ["audit_events_2031_03", "audit_events_2031_04", "audit_events_2031_05"]
    assert upkeep.created == names and upkeep.moved == 0
    assert set(names) <= partition_names(database_url, "audit_events")
    again = await services.audit_partitions.ensure(FAR_MONTH, 3)
    assert again.created == [] and again.moved == 0


async def test_early_arrivals_in_default_are_moved_to_their_month(
    clocked_services, clock, database_url
) -> None:
    services = clocked_services
    async with services.uow() as uow:
        await uow.audit.record(ALICE, AuditEntry(action="before", resource_type="patient"))
    clock.advance((datetime(2031, 3, 20, tzinfo=UTC) - clock.now()).total_seconds())
    for action in ("early.one", "early.two"):
        async with services.uow() as uow:
            await uow.audit.record(ALICE, AuditEntry(action=action, resource_type="patient"))
    clock.advance(86400 * 60)  # May 2031: stays in DEFAULT, no partition is asked for it
    async with services.uow() as uow:
        await uow.audit.record(ALICE, AuditEntry(action="later", resource_type="patient"))
    events = {row["action"]: row["seq"] for row in audit_events(database_url)}
    assert where_events_live(database_url)[events["early.one"]] == "audit_events_default"

    upkeep = await services.audit_partitions.ensure(FAR_MONTH, 1)

    assert upkeep.created == ["audit_events_2031_03"] and upkeep.moved == 2
    placed = where_events_live(database_url)
    assert placed[events["early.one"]] == placed[events["early.two"]] == "audit_events_2031_03"
    assert placed[events["later"]] == "audit_events_default"
    assert "audit_events_default_moving" not in partition_names(database_url, "audit_events")
    assert len(audit_events(database_url)) == 4
    report = await PgAuditStore(services.pool).verify()
    assert report.valid and report.checked == 4
    # the fresh DEFAULT is append-only like the old one
    with pytest.raises(Exception, match="append-only"):
        rows(database_url, "DELETE FROM audit_events WHERE seq = %s", (events["later"],))


async def test_the_job_prepares_the_months_it_names_and_audits_it(services, database_url) -> None:
    submission = await enqueue_partition_upkeep(
        services.uow, services.sender, datetime(2031, 3, 9, 12, tzinfo=UTC)
    )
    job = submission.job
    assert job.kind == AUDIT_PARTITIONS.name and job.owner_id == "system"
    assert job.payload == {"firstMonth": "2031-03-01", "months": 3}

    result = await maintain_partitions(job, services)

    assert result == {
        "created": ["audit_events_2031_03", "audit_events_2031_04", "audit_events_2031_05"],
        "moved": 0,
    }
    [event] = audit_events(database_url, "audit.partitions")
    assert event["actor_id"] == "system"
    # a second run (a retry after a crash) has nothing left to do and records nothing
    assert await maintain_partitions(job, services) == {"created": [], "moved": 0}
    assert len(audit_events(database_url, "audit.partitions")) == 1


async def test_a_job_with_a_bad_payload_fails_for_good(services) -> None:
    job = (await enqueue_partition_upkeep(services.uow, services.sender, datetime.now(UTC))).job
    for payload in ({}, {"firstMonth": "2031-03-02", "months": 3}, {"firstMonth": "x"}):
        with pytest.raises(PermanentFailure):
            await maintain_partitions(msgspec.structs.replace(job, payload=payload), services)


async def test_one_job_per_day_however_often_it_is_enqueued(services, database_url) -> None:
    morning = datetime(2031, 3, 9, 0, 10, tzinfo=UTC)
    first = await enqueue_partition_upkeep(services.uow, services.sender, morning)
    again = await enqueue_partition_upkeep(services.uow, services.sender, morning.replace(hour=23))
    next_day = await enqueue_partition_upkeep(
        services.uow, services.sender, morning.replace(day=10)
    )

    assert first.created and not again.created and again.job.id == first.job.id
    assert next_day.created
    assert partition_job(morning).idempotency_key == "daily:2031-03-09"
    assert len(job_rows(database_url)) == 2


async def test_the_scheduler_entry_only_enqueues(clocked_services, database_url) -> None:
    # On a clock that stands still: two plans a moment apart may straddle midnight (UTC)
    await enqueue_audit_partitions(clocked_services)
    await enqueue_audit_partitions(clocked_services)  # a second scheduler, or a restart

    [job] = job_rows(database_url)
    assert job["kind"] == "audit.partitions" and job["status"] == "queued"


async def test_the_scheduler_holds_a_daily_entry(services) -> None:
    scheduler = AsyncIOScheduler(timezone=UTC)
    schedule_periodic_jobs(scheduler, services)
    entry = scheduler.get_job("audit_partitions")
    assert entry is not None
    assert entry.func is plan_quietly and entry.args[0] is AUDIT_PARTITIONS  # from the catalogue
    assert "hour='0'" in str(entry.trigger) and "minute='10'" in str(entry.trigger)


# --- events left pending: linked by the upkeep, and by their own sweep ----------------------


async def leave_pending(services, action: str, clock: Clock | None = None) -> None:
    """Record and commit an event with no chaining after it (a writer killed in between)."""
    async with services.pool.connection() as conn, conn.transaction():
        await PgAuditLog(conn, clock or SystemClock()).record(
            ALICE, AuditEntry(action=action, resource_type="patient")
        )


def pending(database_url: str) -> int:
    return rows(database_url, "SELECT count(*) AS n FROM audit_pending")[0]["n"]


async def test_the_upkeep_links_what_is_pending_after_its_own_commit(
    services, database_url
) -> None:
    await leave_pending(services, "stopped.one")
    await leave_pending(services, "stopped.two")

    upkeep = await services.audit_partitions.ensure(FAR_MONTH, 1)

    assert upkeep.created == ["audit_events_2031_03"]
    assert pending(database_url) == 0
    assert [e["action"] for e in audit_events(database_url)] == ["stopped.one", "stopped.two"]
    report = await PgAuditStore(services.pool).verify()
    assert report.valid and report.checked == 2


async def test_a_failed_linking_never_undoes_the_upkeep(
    services, database_url, monkeypatch
) -> None:
    """Fault injection: the database fails between the upkeep's commit and its linking."""

    async def unavailable(pool) -> int:
        raise DatabaseUnavailable("the database went away")

    monkeypatch.setattr(audit_partitions, "chain_pending", unavailable)
    await leave_pending(services, "stopped")

    upkeep = await services.audit_partitions.ensure(FAR_MONTH, 1)

    assert upkeep.created == ["audit_events_2031_03"]
    assert "audit_events_2031_03" in partition_names(database_url, "audit_events")
    assert pending(database_url) == 1 and chain_as_it_stands(database_url) == []


async def test_the_sweep_is_planned_only_for_events_pending_too_long_and_links_them(
    clocked_services, clock, database_url
) -> None:
    services = clocked_services
    plan = bind_plan(AUDIT_CHAIN_PENDING, services.dependencies())
    interval = services.settings.audit_chain_interval_seconds
    assert await plan() is None  # nothing pending

    await leave_pending(services, "stopped", clock)
    assert await plan() is None  # pending, but its writer may still be linking it
    clock.advance(interval + 1)
    submission = await plan()
    again = await plan()  # a second scheduler, the same interval

    assert submission.created and not again.created and again.job.id == submission.job.id
    [job] = job_rows(database_url)
    assert job["kind"] == "audit.chain_pending" and job["owner_id"] == "system"
    assert await run_handler(AUDIT_CHAIN_PENDING, submission.job, services) == {"linked": 1}
    assert pending(database_url) == 0
    assert [e["action"] for e in audit_events(database_url)] == ["stopped"]
    clock.advance(interval + 1)
    assert await plan() is None  # nothing left: no job


async def test_the_scheduler_holds_the_sweep_every_interval(services) -> None:
    scheduler = AsyncIOScheduler(timezone=UTC)
    schedule_periodic_jobs(scheduler, services)
    entry = scheduler.get_job("audit_chain_pending")
    assert entry is not None
    assert entry.func is plan_quietly and entry.args[0] is AUDIT_CHAIN_PENDING
    seconds = services.settings.audit_chain_interval_seconds
    assert entry.trigger.interval.total_seconds() == seconds
