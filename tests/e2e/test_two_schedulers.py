"""Operators may run two schedulers: one leads, the other stands by and takes over when it goes."""

from __future__ import annotations

import pytest

from tests.support.jobs import jobs_of_kind, once_a_day, wait_until
from tests.support.processes import start_scheduler

pytestmark = pytest.mark.slow


def upkeep_jobs(database_url: str) -> list[dict]:
    return jobs_of_kind(database_url, "audit.partitions")


def test_one_of_two_schedulers_leads_and_the_other_takes_over(settings, processes, log_dir) -> None:
    first = start_scheduler(settings, log_dir)
    processes.append(first)
    wait_until(lambda: "scheduler_leading" in first.output(), timeout=30)
    second = start_scheduler(settings, log_dir)
    processes.append(second)
    wait_until(lambda: "scheduler_standby" in second.output(), timeout=30)
    wait_until(lambda: upkeep_jobs(settings.database_url), timeout=30)

    first.stop()

    wait_until(lambda: "scheduler_leading" in second.output(), timeout=30)
    assert "scheduler_leading" not in second.output().split("scheduler_standby")[0]
    assert once_a_day(upkeep_jobs(settings.database_url))  # the day's upkeep, enqueued once
