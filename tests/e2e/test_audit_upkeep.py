"""The scheduler enqueues the day's audit partition upkeep once, however often it starts."""

from __future__ import annotations

from datetime import date

import pytest

from domain.adapters.audit.partitions import add_months, partition_name
from tests.support.jobs import jobs_of_kind, once_a_day, wait_until
from tests.support.processes import start_scheduler, start_worker
from tests.support.rows import partition_names

pytestmark = pytest.mark.slow


def upkeep_jobs(database_url: str) -> list[dict]:
    return jobs_of_kind(database_url, "audit.partitions")


def months_named(payload: dict) -> list[str]:
    first = date.fromisoformat(payload["firstMonth"])
    return [partition_name(add_months(first, n)) for n in range(payload["months"])]


def test_a_restarted_scheduler_does_not_enqueue_the_day_twice(settings, processes, log_dir) -> None:
    made_by_the_migration = partition_names(settings.database_url, "audit_events")
    first = start_scheduler(settings, log_dir)
    processes.append(first)
    wait_until(lambda: upkeep_jobs(settings.database_url), timeout=30)
    first.stop()
    processes.append(start_scheduler(settings, log_dir))  # a restart, the same day
    processes.append(start_worker(settings, log_dir))

    wait_until(
        lambda: {job["status"] for job in upkeep_jobs(settings.database_url)} == {"succeeded"},
        timeout=60,
    )
    jobs = sorted(upkeep_jobs(settings.database_url), key=lambda job: job["created_at"])
    assert once_a_day(jobs)  # one, or one a day when the run crosses midnight (UTC)
    job = jobs[0]
    assert job["owner_id"] == "system"
    # The migration made these months, save one that began since it ran (a new month)
    missing = [name for name in months_named(job["payload"]) if name not in made_by_the_migration]
    assert job["result"] == {"created": missing, "moved": 0}
