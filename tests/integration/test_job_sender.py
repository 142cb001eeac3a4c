"""The job sender on a real Redis: what it puts there is what ``broker.enqueue`` would, sent
from the event loop in pipelined batches, and it survives Redis forgetting its scripts."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import dramatiq
import pytest
import redis

from domain.adapters.jobs.messaging import (
    DramatiqSender,
    build_broker,
    enqueued,
    message_for,
    wake_list,
)
from domain.jobs.model import Job, NewJob, actor_name_of
from domain.jobs.system import NOOP
from tests.fakes.jobs import new_job_row


def noop_job() -> Job:
    new = NewJob(kind=NOOP, owner_id="user-1", payload={})
    return new_job_row(new, uuid.uuid4(), datetime.now(UTC))


def fetch_all(broker, queue: str, expected: int, timeout: float = 5.0) -> list[dramatiq.Message]:
    consumer = broker.consume(queue, prefetch=max(expected, 1) * 2, timeout=100)
    fetched: list[dramatiq.Message] = []
    deadline = time.monotonic() + timeout
    try:
        while len(fetched) < expected and time.monotonic() < deadline:
            got = next(consumer)
            if got is not None:
                fetched.append(got)
                consumer.ack(got)
        assert next(consumer) is None, "more messages than were sent"
    finally:
        consumer.close()
    return fetched


async def test_what_the_sender_puts_in_redis_is_what_a_consumer_takes(redis_url: str) -> None:
    broker = build_broker(redis_url)
    broker.declare_queue(NOOP.queue)
    sender = DramatiqSender.from_url(broker, redis_url)
    tokens = redis.Redis.from_url(redis_url)
    tokens.delete(wake_list(broker.namespace, NOOP.queue))
    jobs = [noop_job() for _ in range(40)]
    later = noop_job()
    try:
        # sent at once from many tasks: they go in a few batches, each message once
        await asyncio.gather(*(sender.send(job) for job in jobs), sender.send(later, 60))
        woken = tokens.llen(wake_list(broker.namespace, NOOP.queue))  # a token a batch
        fetched = await asyncio.to_thread(fetch_all, broker, NOOP.queue, len(jobs))
        delayed = await asyncio.to_thread(fetch_all, broker, f"{NOOP.queue}.DQ", 1)
    finally:
        await sender.close()
        broker.close()
    assert sorted(m.args[0] for m in fetched) == sorted(str(job.id) for job in jobs)
    assert {m.actor_name for m in fetched} == {actor_name_of(NOOP.name)}
    assert all(m.options["redis_message_id"] for m in fetched)
    assert [m.args[0] for m in delayed] == [str(later.id)]
    eta_in = delayed[0].options["eta"] / 1000 - time.time()
    assert 50 < eta_in <= 60, eta_in
    assert woken >= 1, "idle consumers were not woken"


def test_a_message_is_encoded_to_the_bytes_dramatiqs_own_encoder_gives(redis_url: str) -> None:
    broker = build_broker(redis_url)
    try:
        prepared = broker.prepare_enqueues(
            [(message_for(noop_job()), None), (message_for(noop_job()), 5000)]
        )
    finally:
        broker.close()
    encoded = enqueued(prepared)
    assert [data for _, _, data in encoded] == [message.encode() for _, message, _ in prepared]
    assert [queue for queue, _, _ in encoded] == [NOOP.queue, f"{NOOP.queue}.DQ"]


async def test_a_send_after_redis_forgot_its_scripts_still_arrives(redis_url: str) -> None:
    broker = build_broker(redis_url)
    broker.declare_queue(NOOP.queue)
    sender = DramatiqSender.from_url(broker, redis_url)
    first, second = noop_job(), noop_job()
    try:
        await sender.send(first)
        redis.Redis.from_url(redis_url).script_flush()  # as a restarted Redis has none
        await sender.send(second)
        fetched = await asyncio.to_thread(fetch_all, broker, NOOP.queue, 2)
    finally:
        await sender.close()
        broker.close()
    assert sorted(m.args[0] for m in fetched) == sorted([str(first.id), str(second.id)])


async def test_a_send_to_a_redis_that_is_away_fails_its_caller(redis_url: str) -> None:
    broker = build_broker(redis_url)
    sender = DramatiqSender.from_url(broker, "redis://127.0.0.1:1/0")  # nothing listens there
    try:
        with pytest.raises(redis.ConnectionError):  # not reported sent: the relay will send it
            await sender.send(noop_job())
    finally:
        await sender.close()
        broker.close()
