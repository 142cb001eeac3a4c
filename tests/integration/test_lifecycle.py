"""Every lifecycle transition through the real store, with a clock the test moves."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

from domain.adapters.bootstrap import Services
from domain.clock import ManualClock
from domain.errors import InvalidTransition, NotFound, PermanentFailure, TransientFailure
from domain.jobs.model import Job, JobError, JobStatus
from domain.notifications.jobs import EMAIL_SEND
from tests.support.jobs import (
    FlakyStore,
    RecordingSender,
    async_wait_until,
    cancel_job,
    resubmit_job,
    submit_noop,
)
from workers.lifecycle import ClaimDeferred, LifecycleRunner


@pytest.fixture
def sender(clocked_services: Services) -> RecordingSender:
    return RecordingSender(clocked_services.sender)


@pytest.fixture
def runner(clocked_services: Services, sender: RecordingSender, clock: ManualClock):
    return LifecycleRunner(clocked_services.store, sender, clock, heartbeat_seconds=0.05)


async def history(services: Services, job: Job) -> list[tuple[str | None, str]]:
    events = await services.store.events(job.id)
    return [(e.from_status.value if e.from_status else None, e.to_status.value) for e in events]


class Handler:
    """A job handler whose outcome each attempt is scripted by the test."""

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    async def __call__(self, job: Job) -> dict | None:
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome  # type: ignore[return-value]


async def test_queued_running_succeeded(clocked_services, runner) -> None:
    job = await submit_noop(clocked_services)
    assert job.status is JobStatus.QUEUED

    done = await runner.run(job.id, Handler({"answer": 42}))

    assert done.status is JobStatus.SUCCEEDED
    assert done.result == {"answer": 42}
    assert done.attempts == 1 and done.error is None
    assert done.started_at is not None and done.finished_at is not None
    assert await history(clocked_services, job) == [
        (None, "queued"),
        ("queued", "running"),
        ("running", "succeeded"),
    ]


async def test_transient_failure_retries_then_succeeds(clocked_services, runner, sender) -> None:
    job = await submit_noop(clocked_services)
    handler = Handler(TransientFailure("the mail server is busy"), {"ok": True})

    retrying = await runner.run(job.id, handler)
    assert retrying.status is JobStatus.RETRYING
    assert retrying.error.code == "transient_failure"
    assert sender.sent[-1] == (job.id, 0.0)  # the kind's first retry is immediate

    done = await runner.run(job.id, handler)
    assert done.status is JobStatus.SUCCEEDED and done.attempts == 2
    assert await history(clocked_services, job) == [
        (None, "queued"),
        ("queued", "running"),
        ("running", "retrying"),
        ("retrying", "running"),
        ("running", "succeeded"),
    ]


async def test_permanent_failure_fails_at_once(clocked_services, runner, sender) -> None:
    job = await submit_noop(clocked_services)
    sent_before = len(sender.sent)

    failed = await runner.run(job.id, Handler(PermanentFailure("refused", code="smtp_550")))

    assert failed.status is JobStatus.FAILED and failed.attempts == 1
    assert failed.error.code == "smtp_550"
    assert failed.finished_at is not None
    assert len(sender.sent) == sent_before  # nothing re-sent
    events = await clocked_services.store.events(job.id)
    assert events[-1].error.code == "smtp_550"


async def test_unexpected_error_is_retried_and_hidden(clocked_services, runner) -> None:
    job = await submit_noop(clocked_services)
    retrying = await runner.run(job.id, Handler(KeyError("patient-name-in-here")))
    assert retrying.status is JobStatus.RETRYING
    assert retrying.error.code == "internal_error"
    assert "patient" not in retrying.error.message


class Stuck:
    """A handler that never returns by itself; it notes being cancelled."""

    def __init__(self) -> None:
        self.cancelled = False

    async def __call__(self, job: Job) -> dict | None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return None


async def own_timeout(job: Job) -> dict | None:
    raise TimeoutError  # what a client library raises when its own timeout passes


async def test_an_attempt_past_its_time_limit_is_cancelled_and_retried(clocked_services, runner):
    job = await submit_noop(clocked_services)
    stuck = Stuck()

    retrying = await asyncio.wait_for(runner.run(job.id, stuck, time_limit=0.2), timeout=10)

    assert stuck.cancelled
    assert retrying.status is JobStatus.RETRYING and retrying.attempts == 1
    assert retrying.error.code == "attempt_timed_out"
    failed = await asyncio.wait_for(runner.run(job.id, Stuck(), time_limit=0.2), timeout=10)
    assert failed.status is JobStatus.FAILED and failed.error.code == "attempt_timed_out"


async def test_a_handlers_own_timeout_is_not_called_the_time_limit(clocked_services, runner):
    job = await submit_noop(clocked_services)
    retrying = await runner.run(job.id, own_timeout, time_limit=60)
    assert retrying.status is JobStatus.RETRYING
    assert retrying.error.code == "internal_error"


async def test_email_schedule_is_honoured_with_a_moved_clock(
    clocked_services, runner, sender, clock: ManualClock
) -> None:
    job = await submit_noop(clocked_services, kind=EMAIL_SEND)
    always_busy = Handler(*[TransientFailure("busy")] * 5)
    expected_waits = [0.0, 300.0, 900.0, 3600.0]

    for attempt, wait in enumerate(expected_waits, start=1):
        retrying = await runner.run(job.id, always_busy)
        assert retrying.status is JobStatus.RETRYING and retrying.attempts == attempt
        assert (retrying.run_after - clock.now()).total_seconds() == pytest.approx(wait)
        assert sender.sent[-1] == (job.id, wait)
        if wait:
            clock.advance(wait - 1)
            assert await runner.run(job.id, always_busy) is None  # a message that came early
            clock.advance(1)

    failed = await runner.run(job.id, always_busy)
    assert failed.status is JobStatus.FAILED and failed.attempts == 5
    assert always_busy.calls == 5


async def test_duplicate_message_for_a_running_job_is_dropped(clocked_services, runner) -> None:
    job = await submit_noop(clocked_services)
    release = asyncio.Event()
    calls = 0

    async def slow(_: Job) -> dict:
        nonlocal calls
        calls += 1
        await release.wait()
        return {}

    first = asyncio.create_task(runner.run(job.id, slow))
    await asyncio.sleep(0.1)
    assert await runner.run(job.id, slow) is None  # the duplicate, while the first runs
    release.set()
    assert (await first).status is JobStatus.SUCCEEDED
    assert await runner.run(job.id, slow) is None  # and once it has finished
    assert calls == 1


async def test_heartbeat_keeps_a_long_attempt_alive(clocked_services, runner, clock) -> None:
    job = await submit_noop(clocked_services)
    beats = []

    async def beat_since(moment) -> bool:  # type: ignore[no-untyped-def]
        heartbeat = (await clocked_services.store.get(job.id)).heartbeat_at
        return heartbeat is not None and heartbeat >= moment

    async def long(_: Job) -> dict:
        for _ in range(3):
            clock.advance(10)
            moved = clock.now()
            # A beat every 0.05 s; on a loaded machine the next may come late, never not at all.
            await async_wait_until(lambda: beat_since(moved), timeout=10, interval=0.02)  # noqa: B023
            beats.append((await clocked_services.store.get(job.id)).heartbeat_at)
        return {}

    await runner.run(job.id, long)
    assert beats == sorted(beats) and len(set(beats)) == 3


async def test_a_late_outcome_from_a_recovered_attempt_is_refused(clocked_services, clock) -> None:
    store = clocked_services.store
    job = await submit_noop(clocked_services)
    claimed = await store.claim(job.id)
    clock.advance(60)
    [recovered] = await store.recover_stale(30, 10)
    assert recovered.status is JobStatus.RETRYING and recovered.error.code == "worker_lost"

    assert await store.succeed(job.id, claimed.attempts, {"late": True}) is None
    second = await store.claim(job.id)
    assert second.attempts == 2
    assert (await store.succeed(job.id, second.attempts, {})).status is JobStatus.SUCCEEDED


async def test_stale_job_out_of_attempts_is_failed(clocked_services, clock) -> None:
    store = clocked_services.store
    job = await submit_noop(clocked_services)  # noop: 2 attempts
    for _ in range(2):
        await store.claim(job.id)
        clock.advance(60)
        [moved] = await store.recover_stale(30, 10)
    assert moved.status is JobStatus.FAILED and moved.finished_at is not None


async def test_cancel_from_queued_and_retrying_only(clocked_services, runner) -> None:
    store = clocked_services.store
    queued = await submit_noop(clocked_services)
    assert (await cancel_job(clocked_services, queued.id)).status is JobStatus.CANCELLED
    with pytest.raises(InvalidTransition):
        await cancel_job(clocked_services, queued.id)

    retrying = await submit_noop(clocked_services)
    await runner.run(retrying.id, Handler(TransientFailure("busy")))
    assert (await cancel_job(clocked_services, retrying.id)).status is JobStatus.CANCELLED
    assert await runner.run(retrying.id, Handler({})) is None  # its pending message is dropped

    running = await submit_noop(clocked_services)
    await store.claim(running.id)
    with pytest.raises(InvalidTransition):
        await cancel_job(clocked_services, running.id)

    with pytest.raises(NotFound):
        await cancel_job(clocked_services, uuid.uuid4())


async def test_resubmit_only_failed_jobs(clocked_services, runner) -> None:
    job = await submit_noop(clocked_services)
    await runner.run(job.id, Handler(PermanentFailure("no")))

    again = await resubmit_job(clocked_services, job.id, extra_attempts=2)
    assert again.status is JobStatus.QUEUED and again.max_attempts == 3 and again.error is None
    assert (await runner.run(job.id, Handler({}))).status is JobStatus.SUCCEEDED
    with pytest.raises(InvalidTransition):
        await resubmit_job(clocked_services, job.id, extra_attempts=2)


async def test_illegal_moves_match_no_row(clocked_services) -> None:
    store = clocked_services.store
    job = await submit_noop(clocked_services)
    assert await store.succeed(job.id, 0, {}) is None  # queued: not running
    assert await store.fail(job.id, 0, JobError(code="x", message="x")) is None
    claimed = await store.claim(job.id)
    assert await store.claim(job.id) is None  # already running
    assert await store.succeed(job.id, claimed.attempts + 1, {}) is None  # wrong attempt
    await store.succeed(job.id, claimed.attempts, {})
    assert await store.claim(job.id) is None  # finished
    busy = JobError(code="busy", message="busy")
    assert await store.retry(job.id, claimed.attempts, busy, job.run_after) is None
    assert (await store.get(job.id)).status is JobStatus.SUCCEEDED


async def test_job_history_is_append_only(clocked_services, settings) -> None:
    await submit_noop(clocked_services)
    with psycopg.connect(settings.database_url) as conn, pytest.raises(psycopg.Error):
        conn.execute("UPDATE job_events SET to_status = 'succeeded'")


async def test_concurrent_claims_of_one_job_in_one_batch_claim_it_once(clocked_services) -> None:
    store = clocked_services.store
    job = await submit_noop(clocked_services)
    others = [await submit_noop(clocked_services) for _ in range(3)]

    claimed = await asyncio.gather(*(store.claim(j.id) for j in [job, job, *others, job]))

    assert sum(1 for c in claimed if c is not None and c.id == job.id) == 1
    assert all(c is not None for c in claimed[2:5])
    assert (await store.get(job.id)).attempts == 1


async def test_a_claim_and_a_success_in_one_batch_both_land(clocked_services) -> None:
    store = clocked_services.store
    lead, queued, running = [await submit_noop(clocked_services) for _ in range(3)]
    attempt = (await store.claim(running.id)).attempts

    # The first call flushes alone; the two behind it share the next flush.
    _, claimed, finished = await asyncio.gather(
        store.claim(lead.id), store.claim(queued.id), store.succeed(running.id, attempt, None)
    )

    assert claimed.status is JobStatus.RUNNING and claimed.attempts == 1
    assert claimed.payload == queued.payload
    assert finished.status is JobStatus.SUCCEEDED and finished.result is None
    async with clocked_services.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT result IS NULL AS absent FROM jobs WHERE id = %s", (running.id,)
        )
        assert (await cursor.fetchone())["absent"]  # SQL NULL, not a JSON null
    assert await history(clocked_services, queued) == [(None, "queued"), ("queued", "running")]
    assert await history(clocked_services, running) == [
        (None, "queued"),
        ("queued", "running"),
        ("running", "succeeded"),
    ]


async def test_a_success_is_written_once_the_database_is_back(clocked_services, sender, clock):
    job = await submit_noop(clocked_services)
    store = FlakyStore(clocked_services.store, "succeed", failures=3)
    runner = LifecycleRunner(store, sender, clock, heartbeat_seconds=0.05)

    done = await runner.run(job.id, Handler({"sent": True}))

    assert store.calls == 4
    assert done.status is JobStatus.SUCCEEDED and done.attempts == 1
    assert done.result == {"sent": True}
    assert await history(clocked_services, job) == [
        (None, "queued"),
        ("queued", "running"),
        ("running", "succeeded"),
    ]


async def test_a_success_whose_answer_was_lost_is_recognised(clocked_services, sender, clock):
    job = await submit_noop(clocked_services)
    store = FlakyStore(clocked_services.store, "succeed", failures=1, after_commit=True)
    runner = LifecycleRunner(store, sender, clock, heartbeat_seconds=0.05)

    done = await runner.run(job.id, Handler({}))

    assert done is not None and done.status is JobStatus.SUCCEEDED and done.attempts == 1


async def test_a_retry_is_written_once_the_database_is_back(clocked_services, sender, clock):
    job = await submit_noop(clocked_services)
    store = FlakyStore(clocked_services.store, "retry", failures=2)
    runner = LifecycleRunner(store, sender, clock, heartbeat_seconds=0.05)

    retrying = await runner.run(job.id, Handler(TransientFailure("busy")))

    assert retrying.status is JobStatus.RETRYING and retrying.error.code == "transient_failure"
    assert sender.sent == [(job.id, 0.0)]


async def test_a_claim_that_cannot_be_written_is_deferred(clocked_services, sender, clock):
    job = await submit_noop(clocked_services)
    store = FlakyStore(clocked_services.store, "claim", failures=None)
    runner = LifecycleRunner(store, sender, clock, heartbeat_seconds=0.05, stale_after_seconds=0.3)
    handler = Handler({})

    with pytest.raises(ClaimDeferred):
        await runner.run(job.id, handler)

    assert handler.calls == 0 and store.calls >= 2
    assert (await clocked_services.store.get(job.id)).status is JobStatus.QUEUED  # still due


async def test_an_outcome_is_given_up_when_the_attempt_loses_its_hold(
    clocked_services, sender, clock
):
    """No heartbeat reached the database for the stale window: the relay may take the job
    back, so the worker stops trying and leaves it to the relay."""
    job = await submit_noop(clocked_services)
    store = FlakyStore(clocked_services.store, "succeed", failures=None)
    runner = LifecycleRunner(store, sender, clock, heartbeat_seconds=60, stale_after_seconds=0.3)

    assert await runner.run(job.id, Handler({})) is None

    assert (await clocked_services.store.get(job.id)).status is JobStatus.RUNNING
    clock.advance(60)
    [recovered] = await clocked_services.store.recover_stale(30, 10)
    assert recovered.id == job.id and recovered.error.code == "worker_lost"


async def test_start_returns_when_the_handler_has_and_the_outcome_lands_after(
    clocked_services, sender, clock
):
    """The actor's way in: its thread is free once the handler returned; the success is
    written after (here the database is away for a while), the heartbeat keeps the job held
    meanwhile, and the future answers the job as recorded (the queue's consumer acks then)."""
    job = await submit_noop(clocked_services)
    store = FlakyStore(clocked_services.store, "succeed", failures=3)
    runner = LifecycleRunner(store, sender, clock, heartbeat_seconds=0.05)

    recording = await runner.start(job.id, Handler({"sent": True}))

    assert recording is not None and not recording.done()
    assert (await clocked_services.store.get(job.id)).status is JobStatus.RUNNING
    beat_before = (await clocked_services.store.get(job.id)).heartbeat_at
    clock.advance(5)
    await asyncio.sleep(0.2)  # beats go on while the success waits for the database
    waiting = await clocked_services.store.get(job.id)
    assert waiting.status is JobStatus.RUNNING and not recording.done()
    assert waiting.heartbeat_at > beat_before
    done = await recording
    assert store.calls == 4  # three refusals, retried with backoff (0.1 s, 0.2 s, ...)
    assert done.status is JobStatus.SUCCEEDED and done.result == {"sent": True}
    assert done.attempts == 1
    assert await runner.start(job.id, Handler()) is None  # finished: a later message is dropped
