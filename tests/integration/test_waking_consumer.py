"""The ready queues' consumer on a real Redis: idle, it waits for a wake-up (each enqueue
publishes one) instead of polling, and a wake-up ends the wait at once."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

from domain.adapters.jobs.messaging import build_broker, message_for
from domain.jobs.model import NewJob
from domain.jobs.system import NOOP
from tests.fakes.jobs import new_job_row

IDLE_MS = 400  # the consumer's timeout: the longest it waits between two fetches
LONG_IDLE_MS = 2000


def own_queue(broker) -> str:
    """A queue no other test uses: wake-ups go by Pub/Sub, which is one for every database of
    the Redis server, so another test's enqueue on ``default`` would wake these consumers."""
    queue = f"wake-test-{uuid.uuid4().hex[:8]}"
    broker.declare_queue(queue)
    return queue


def noop_message(queue: str):
    """A new no-op job, and its message for ``queue``."""
    job = new_job_row(
        NewJob(kind=NOOP, owner_id="user-1", payload={}), uuid.uuid4(), datetime.now(UTC)
    )
    return job, message_for(job).copy(queue_name=queue)


def counting_fetches(broker) -> list[float]:
    """When each fetch of ``broker``'s consumers was made (Dramatiq's dispatch script)."""
    made: list[float] = []
    fetch = broker.do_fetch

    def counted(*args):
        made.append(time.monotonic())
        return fetch(*args)

    broker.do_fetch = counted
    return made


def watched_consumer(redis_url: str, timeout_ms: int):
    """A broker, a queue of the test's own, the list its fetches are noted in, and a
    consumer of the queue that waits up to ``timeout_ms`` between fetches."""
    broker = build_broker(redis_url)
    queue = own_queue(broker)
    fetches = counting_fetches(broker)
    return broker, queue, fetches, broker.consume(queue, prefetch=4, timeout=timeout_ms)


def test_an_idle_consumer_fetches_once_per_timeout_not_on_a_backoff(redis_url: str) -> None:
    broker, _queue, fetches, consumer = watched_consumer(redis_url, IDLE_MS)
    calls = 0
    try:
        assert next(consumer) is None  # the subscription's confirmation ends the first wait
        fetches.clear()
        started = time.monotonic()
        while time.monotonic() - started < 1.0:
            assert next(consumer) is None
            calls += 1
    finally:
        consumer.close()
        broker.close()
    # one fetch, then a wait of the whole timeout, per call: 3 in a second (Dramatiq's backoff
    # from 5 ms up would have fetched 8 times)
    assert calls == len(fetches) == 3, fetches


def test_a_message_sent_to_an_idle_consumer_wakes_it_at_once(redis_url: str) -> None:
    broker, queue, fetches, consumer = watched_consumer(redis_url, LONG_IDLE_MS)
    job, message = noop_message(queue)
    sender = threading.Timer(0.1, broker.enqueue, [message])
    got = None
    try:
        assert next(consumer) is None  # the subscription's confirmation ends the first wait
        fetches.clear()
        started = time.monotonic()
        sender.start()
        while got is None and time.monotonic() - started < 5.0:
            got = next(consumer)  # an empty fetch and a wait, woken; then the fetch that finds it
        took = time.monotonic() - started
        consumer.ack(got)
    finally:
        sender.cancel()
        consumer.close()
        broker.close()
    assert got.args[0] == str(job.id)
    assert took < LONG_IDLE_MS / 1000 / 2, took  # woken, not fetched at the timeout
    assert len(fetches) == 2, fetches  # no polling while it waited


def test_a_fetch_that_empties_the_queue_is_followed_by_a_wait_not_another_fetch(
    redis_url: str,
) -> None:
    broker, queue, fetches, consumer = watched_consumer(redis_url, IDLE_MS)
    job, message = noop_message(queue)
    sender = threading.Timer(0.1, broker.enqueue, [message])
    try:
        assert next(consumer) is None  # the subscription's confirmation ends the first wait
        fetches.clear()
        sender.start()
        assert next(consumer) is None  # an empty fetch, then a wait the enqueue's wake-up ends
        got = next(consumer)  # one fetch of up to 4, which brings the one message there is
        consumer.ack(got)
        started = time.monotonic()
        assert next(consumer) is None  # no fetch: the next message would come with a wake-up
        waited = time.monotonic() - started
    finally:
        sender.cancel()
        consumer.close()
        broker.close()
    assert got.args[0] == str(job.id)
    assert len(fetches) == 2, fetches
    assert waited >= IDLE_MS / 1000 - 0.05, waited


def test_a_message_put_back_wakes_an_idle_consumer(redis_url: str) -> None:
    """A stopping worker puts back the messages it will not start: the others, waiting for
    wake-ups, take them at once rather than at their timeout."""
    broker = build_broker(redis_url)
    queue = own_queue(broker)
    stopping = broker.consume(queue, prefetch=4, timeout=IDLE_MS)
    idle = broker.consume(queue, prefetch=4, timeout=LONG_IDLE_MS)
    job, message = noop_message(queue)
    got = None
    try:
        assert next(stopping) is None and next(idle) is None  # their subscriptions confirmed
        broker.enqueue(message)
        held = next(stopping) or next(stopping)
        put_back = threading.Timer(
            0.1, broker.requeue_and_wake, [queue, [held.options["redis_message_id"]]]
        )
        started = time.monotonic()
        put_back.start()
        while got is None and time.monotonic() - started < 5.0:
            got = next(idle)
        took = time.monotonic() - started
        idle.ack(got)
    finally:
        put_back.cancel()
        stopping.close()
        idle.close()
        broker.close()
    assert got.args[0] == str(job.id)
    assert took < LONG_IDLE_MS / 1000 / 2, took
