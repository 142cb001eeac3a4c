"""The Procfile's worker line as a process (``dramatiq workers.app``)."""

from __future__ import annotations

import json

import pytest

from domain.jobs.system import NOOP
from tests.support.jobs import async_wait_until, jobs_of_kind, submit_noop
from tests.support.processes import start_worker

pytestmark = pytest.mark.slow


async def test_a_worker_process_says_it_is_ready_with_its_loop_and_its_concurrency(
    services, settings, processes, log_dir
) -> None:
    job = await submit_noop(services)
    worker = start_worker(settings, log_dir, processes=1, threads=2)
    processes.append(worker)

    def succeeded() -> bool:
        return any(
            row["id"] == job.id and row["status"] == "succeeded"
            for row in jobs_of_kind(settings.database_url, NOOP.name)
        )

    await async_wait_until(succeeded, timeout=60)
    (ready,) = [
        json.loads(line) for line in worker.output().splitlines() if "worker_process_ready" in line
    ]
    assert ready["event_loop"] == "uvloop.Loop" and ready["handlers_at_once"] == 2
