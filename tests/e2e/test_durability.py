"""No job is lost: Redis flushed, duplicate messages, a worker killed with -9."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import psycopg
import pytest
import redis

from domain.jobs.model import JobError, JobStatus
from domain.jobs.submit import send_quietly
from domain.jobs.system import NOOP
from tests.support.jobs import async_wait_until, jobs_of_kind, submit_noop
from tests.support.processes import start_scheduler, start_worker

pytestmark = pytest.mark.slow


def all_succeeded(database_url: str, count: int):
    def check() -> bool:
        # the test's own no-op jobs only: the scheduler enqueues upkeep jobs of its own
        done = jobs_of_kind(database_url, NOOP.name)
        return sum(job["status"] == "succeeded" for job in done) >= count

    return check


async def test_redis_flushall_with_jobs_queued_and_retrying(
    services, settings, processes, log_dir
) -> None:
    queued = [await submit_noop(services) for _ in range(20)]
    retrying = [await submit_noop(services) for _ in range(5)]
    for job in retrying:
        claimed = await services.store.claim(job.id)
        later = services.clock.now() + timedelta(seconds=1)
        error = JobError(code="transient_failure", message="busy")
        moved = await services.store.retry(job.id, claimed.attempts, error, later)
        await send_quietly(services.sender, moved, 1.0)
    assert redis.Redis.from_url(settings.redis_url).dbsize() > 0

    redis.Redis.from_url(settings.redis_url).flushall()

    processes.append(start_worker(settings, log_dir))
    processes.append(start_scheduler(settings, log_dir))
    await async_wait_until(all_succeeded(settings.database_url, 25), timeout=60)
    for job in queued + retrying:
        assert (await services.store.get(job.id)).status is JobStatus.SUCCEEDED


async def test_duplicate_messages_run_a_job_once(services, settings, processes, log_dir) -> None:
    job = await submit_noop(services)
    for _ in range(3):
        await services.sender.send(job)  # the same job announced three more times

    processes.append(start_worker(settings, log_dir, threads=4))
    await async_wait_until(all_succeeded(settings.database_url, 1), timeout=30)
    await async_wait_until(lambda: not services.broker.client.llen("dramatiq:default"))

    done = await services.store.get(job.id)
    assert done.attempts == 1
    with psycopg.connect(settings.database_url) as conn:
        runs = conn.execute(
            "SELECT count(*) FROM job_events WHERE job_id = %s AND to_status = 'running'",
            (job.id,),
        ).fetchone()[0]
    assert runs == 1


async def test_a_worker_stopped_mid_stream_leaves_no_job_held_and_none_run_twice(
    services, settings, processes, log_dir
) -> None:
    """Actors return before their outcome is written and acks follow the writes (acks.py):
    a graceful stop (SIGTERM) still waits for every outcome and sends its ack, so no job is
    left running for the relay to take back, no finished job's message stays in Redis, the
    rest are back on the queue (prefetched ones too), and the next worker runs them, each
    job once."""
    jobs = [await submit_noop(services) for _ in range(6000)]
    worker = start_worker(settings, log_dir, processes=1, threads=8)
    processes.append(worker)
    await async_wait_until(all_succeeded(settings.database_url, 50), timeout=60)
    worker.stop()  # SIGTERM mid-stream

    statuses = [job["status"] for job in jobs_of_kind(settings.database_url, NOOP.name)]
    assert "running" not in statuses
    assert statuses.count("succeeded") < len(jobs), "stopped too late to test anything"
    unfinished = len(jobs) - statuses.count("succeeded")
    assert services.broker.client.hlen("dramatiq:default.msgs") == unfinished
    # and every one of them is back on the queue, none held by the stopped worker
    assert services.broker.client.llen("dramatiq:default") == unfinished

    second = start_worker(settings, log_dir, processes=1, threads=8)
    processes.append(second)
    try:
        await async_wait_until(all_succeeded(settings.database_url, len(jobs)), timeout=60)
    except AssertionError:
        statuses = [job["status"] for job in jobs_of_kind(settings.database_url, NOOP.name)]
        client = services.broker.client
        keys = {key.decode(): client.type(key).decode() for key in client.keys("dramatiq:*")}
        raise AssertionError(
            f"statuses {Counter(statuses)}; redis {keys}; "
            f"queued messages {client.llen('dramatiq:default')}, "
            f"held {client.hlen('dramatiq:default.msgs')}\n"
            f"first worker:\n{worker.output()[-3000:]}\nsecond worker:\n{second.output()[-3000:]}"
        ) from None
    done = jobs_of_kind(settings.database_url, NOOP.name)
    assert {job["attempts"] for job in done} == {1} and len(done) == len(jobs)
