"""The scheduler is quiet at INFO: a routine periodic run prints nothing, a failing run is logged.

APScheduler logs two INFO lines per run ("Running job", "executed
successfully"); the scheduler sets its logger to WARNING. Here a real
scheduler runs the relay and the anchoring check every 0.2 s for a few
seconds and must print no line for them; then the jobs table is renamed
under it, so each relay pass fails, and that failure must be in its log.
"""

from __future__ import annotations

import json
import time

import msgspec
import psycopg
import pytest
from stellar_sdk import Keypair

from domain.settings import Settings
from tests.support.jobs import wait_until
from tests.support.processes import PlatformProcess, start_scheduler

pytestmark = pytest.mark.slow

ROUTINE_SECONDS = 3.0
INTERVAL_SECONDS = 0.2


def test_routine_runs_print_nothing_and_a_failing_run_is_logged(
    settings: Settings, processes: list[PlatformProcess], log_dir
) -> None:
    quick = msgspec.structs.replace(
        settings,
        relay_interval_seconds=INTERVAL_SECONDS,
        # The day's upkeep jobs it enqueues stay queued (no worker here): a pass that re-sends
        # them logs what it did, which is news, not routine; this keeps them out of the window.
        relay_grace_seconds=3600.0,
        anchor_interval_seconds=INTERVAL_SECONDS,
        stellar_secret_key=Keypair.random().secret,  # so the anchoring check runs too
    )
    scheduler = start_scheduler(quick, log_dir)
    processes.append(scheduler)
    wait_until(lambda: "scheduler_leading" in scheduler.output(), timeout=30)
    # Taking the lead enqueues the day's upkeep once (one line each); then only routine runs.
    wait_until(lambda: "content_unpin_enqueued" in scheduler.output(), timeout=30)
    time.sleep(0.5)
    settled = len(scheduler.output().splitlines())

    time.sleep(ROUTINE_SECONDS)  # about 15 relay passes and 15 anchoring checks

    lines = scheduler.output().splitlines()
    assert lines[settled:] == []
    assert not any("Running job" in line or "executed successfully" in line for line in lines)

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE jobs RENAME TO jobs_elsewhere")
    wait_until(lambda: "relay_pass_failed" in scheduler.output(), timeout=30)
    failed = json.loads(
        next(line for line in scheduler.output().splitlines() if "relay_pass_failed" in line)
    )
    assert failed["level"] == "error"
    assert failed["error_type"] == "UndefinedTable"
