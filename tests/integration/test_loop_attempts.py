"""Attempts handed from a queue's consumer to the event loop (workers/attempts.py), through
the real job store: the thread is not held, ``--threads`` slots bound the handlers, the future
a message's ack waits for is done only once the attempt's outcome is written, and a worker
that is stopping starts no more attempts."""

from __future__ import annotations

import asyncio
import concurrent.futures

from domain.adapters.jobs.acks import PUT_BACK
from domain.clock import ManualClock
from domain.jobs.model import Job, JobStatus
from domain.jobs.system import NOOP
from tests.support.jobs import FlakyStore, RecordingSender, submit_noop
from workers.attempts import LoopAttempts
from workers.lifecycle import LifecycleRunner


class Gate:
    """A handler that holds every attempt until opened, counting how many it holds at once."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.inside = 0
        self.most_inside = 0

    async def __call__(self, job: Job) -> dict:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        try:
            await self.open.wait()
        finally:
            self.inside -= 1
        return {"job": str(job.id)}


def gated_attempts(
    services, clock: ManualClock, slots: int, store: object = None, stale_after: float = 30.0
) -> tuple[Gate, LoopAttempts]:
    """Attempts on this loop, with ``slots`` slots, of jobs whose handler is a closed gate."""
    runner = LifecycleRunner(
        store or services.store,
        RecordingSender(services.sender),
        clock,
        heartbeat_seconds=0.05,
        stale_after_seconds=stale_after,
    )
    gate = Gate()
    return gate, LoopAttempts(asyncio.get_running_loop(), runner, lambda _: gate, slots=slots)


async def begin_from_a_thread(attempts: LoopAttempts, job: Job) -> concurrent.futures.Future:
    """As a queue's consumer does: on a thread other than the loop's, returning at once."""
    (over,) = await asyncio.to_thread(attempts.begin_many, [(NOOP, str(job.id))])
    return over


async def test_slots_bound_the_handlers_and_each_future_waits_for_its_outcome(
    clocked_services, clock
) -> None:
    gate, attempts = gated_attempts(clocked_services, clock, slots=2)
    jobs = [await submit_noop(clocked_services) for _ in range(5)]

    overs = [await begin_from_a_thread(attempts, job) for job in jobs]  # no thread waits
    await asyncio.sleep(0.3)

    assert gate.inside == 2 and not any(over.done() for over in overs)
    statuses = [(await clocked_services.store.get(job.id)).status for job in jobs]
    assert statuses.count(JobStatus.RUNNING) == 2 and statuses.count(JobStatus.QUEUED) == 3
    gate.open.set()
    await asyncio.wait_for(asyncio.gather(*map(asyncio.wrap_future, overs)), timeout=10)
    assert gate.most_inside == 2
    for job in jobs:
        done = await clocked_services.store.get(job.id)
        assert done.status is JobStatus.SUCCEEDED and done.result == {"job": str(job.id)}


async def test_the_future_is_done_only_once_the_outcome_is_written(clocked_services, clock):
    """The database is away when the handler returns: the slot is free again, but the
    message's ack (the future) waits until the success lands."""
    store = FlakyStore(clocked_services.store, "succeed", failures=3)
    gate, attempts = gated_attempts(clocked_services, clock, slots=1, store=store)
    gate.open.set()
    first, second = await submit_noop(clocked_services), await submit_noop(clocked_services)

    over = await begin_from_a_thread(attempts, first)
    await asyncio.sleep(0.05)
    assert not over.done()  # the success is still being retried (0.1 s, 0.2 s, ...)
    next_over = await begin_from_a_thread(attempts, second)
    for _ in range(100):  # the one slot is free meanwhile: the second job is claimed
        if (await clocked_services.store.get(second.id)).status is not JobStatus.QUEUED:
            break
        await asyncio.sleep(0.01)
    assert (await clocked_services.store.get(second.id)).status is not JobStatus.QUEUED
    assert not over.done()
    await asyncio.wait_for(asyncio.wrap_future(over), timeout=10)
    await asyncio.wait_for(asyncio.wrap_future(next_over), timeout=10)
    assert store.calls >= 4
    assert (await clocked_services.store.get(first.id)).status is JobStatus.SUCCEEDED
    assert (await clocked_services.store.get(second.id)).status is JobStatus.SUCCEEDED


async def test_a_claim_that_cannot_be_written_ends_the_attempt_and_leaves_the_job_due(
    clocked_services, clock
) -> None:
    store = FlakyStore(clocked_services.store, "claim", failures=None)
    gate, attempts = gated_attempts(clocked_services, clock, slots=1, store=store, stale_after=0.3)
    job = await submit_noop(clocked_services)

    over = await begin_from_a_thread(attempts, job)
    await asyncio.wait_for(asyncio.wrap_future(over), timeout=10)

    assert gate.most_inside == 0
    assert (await clocked_services.store.get(job.id)).status is JobStatus.QUEUED  # for the relay


async def test_once_stopping_an_attempt_without_a_slot_does_not_start_and_is_put_back(
    clocked_services, clock
) -> None:
    gate, attempts = gated_attempts(clocked_services, clock, slots=1)
    running, waiting = await submit_noop(clocked_services), await submit_noop(clocked_services)
    running_over = await begin_from_a_thread(attempts, running)
    await asyncio.sleep(0.1)
    waiting_over = await begin_from_a_thread(attempts, waiting)
    await asyncio.sleep(0.1)

    attempts.stop_starting()  # SIGTERM: workers/runtime.py, before_worker_shutdown
    late_over = await begin_from_a_thread(attempts, await submit_noop(clocked_services))
    gate.open.set()

    assert await asyncio.wait_for(asyncio.wrap_future(running_over), timeout=10) is None
    assert await asyncio.wait_for(asyncio.wrap_future(waiting_over), timeout=10) == PUT_BACK
    assert await asyncio.wait_for(asyncio.wrap_future(late_over), timeout=10) == PUT_BACK
    assert (await clocked_services.store.get(running.id)).status is JobStatus.SUCCEEDED
    assert (await clocked_services.store.get(waiting.id)).status is JobStatus.QUEUED
    assert gate.most_inside == 1
