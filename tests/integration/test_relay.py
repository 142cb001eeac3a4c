"""The relay re-sends lost messages and revives jobs whose worker went silent."""

from __future__ import annotations

from datetime import timedelta

import dramatiq
import msgspec
import pytest

from domain.adapters.bootstrap import Services
from domain.clock import ManualClock
from domain.jobs.model import JobError, JobStatus
from tests.support.jobs import RecordingSender, insert_without_sending, submit_noop
from workers.relay import Relay


@pytest.fixture
def sender(clocked_services: Services) -> RecordingSender:
    return RecordingSender(clocked_services.sender)


@pytest.fixture
def relay(clocked_services: Services, sender: RecordingSender, settings) -> Relay:
    return Relay(clocked_services.store, sender, settings)


def queued_job_ids(services: Services, queue: str) -> list[str]:
    """The job ids of the messages waiting in a Dramatiq queue on the real Redis."""
    client = services.broker.client
    message_ids = client.lrange(f"dramatiq:{queue}", 0, -1)
    payloads = [client.hget(f"dramatiq:{queue}.msgs", mid) for mid in message_ids]
    return [dramatiq.Message.decode(p).args[0] for p in payloads if p]


async def test_a_job_whose_message_was_never_sent_is_sent_after_the_grace(
    clocked_services, relay, sender, clock: ManualClock, settings
) -> None:
    job = await insert_without_sending(clocked_services)
    assert queued_job_ids(clocked_services, "default") == []

    clock.advance(settings.relay_grace_seconds - 0.5)
    assert (await relay.run_once()).resent == 0

    clock.advance(1)
    assert (await relay.run_once()).resent == 1
    assert queued_job_ids(clocked_services, "default") == [str(job.id)]

    # not again until another grace period has passed without a claim
    assert (await relay.run_once()).resent == 0
    clock.advance(settings.relay_grace_seconds + 0.1)
    assert (await relay.run_once()).resent == 1


async def test_a_retrying_job_is_not_resent_before_it_is_due(
    clocked_services, relay, clock: ManualClock, settings
) -> None:
    store = clocked_services.store
    job = await submit_noop(clocked_services)
    claimed = await store.claim(job.id)
    await store.retry(
        job.id,
        claimed.attempts,
        JobError(code="busy", message="busy"),
        clock.now() + timedelta(seconds=300),
    )
    clock.advance(300 + settings.relay_grace_seconds - 1)
    assert (await relay.run_once()).resent == 0
    clock.advance(2)
    assert (await relay.run_once()).resent == 1


async def test_stale_running_job_is_recovered_and_sent(
    clocked_services, relay, sender, clock: ManualClock, settings
) -> None:
    job = await submit_noop(clocked_services)
    await clocked_services.store.claim(job.id)
    clock.advance(settings.job_stale_after_seconds + 1)

    report = await relay.run_once()

    assert report.recovered == 1 and report.resent == 0
    assert (await clocked_services.store.get(job.id)).status is JobStatus.RETRYING
    assert sender.sent[-1] == (job.id, 0.0)


async def test_relay_drains_more_than_one_batch(clocked_services, sender, clock, settings) -> None:
    small = Relay(
        clocked_services.store,
        sender,
        msgspec.structs.replace(settings, relay_batch_size=3),
    )
    for _ in range(7):
        await insert_without_sending(clocked_services)
    clock.advance(settings.relay_grace_seconds + 1)
    assert (await small.run_once()).resent == 7
