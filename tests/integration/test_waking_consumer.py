"""The ready queues' consumer on a real Redis: idle, it waits for a wake-up (each enqueue
pushes a token on the queue's wake-up list) instead of polling, a wake-up ends the wait at
once, and each wake-up wakes one consumer, however many wait."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import redis

from domain.adapters.jobs.messaging import (
    WAKE_TOKENS_KEPT,
    build_broker,
    message_for,
    wake_list,
)
from domain.jobs.model import NewJob
from domain.jobs.system import NOOP
from tests.fakes.jobs import new_job_row

IDLE_MS = 400  # the consumer's timeout: the longest it waits between two fetches
LONG_IDLE_MS = 2000


def own_queue(broker) -> str:
    """A queue no other test uses, with an empty wake-up list."""
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
        broker.enqueue(message)
        held = next(stopping)
        assert next(idle) is None  # an empty fetch, then the enqueue's token, left by `stopping`
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


def take(consumer, count: int, within: float, *, ack: bool) -> list[tuple[object, float]]:
    """The messages ``consumer`` fetches, each with when it came, until it has ``count`` or
    ``within`` seconds pass."""
    taken: list[tuple[object, float]] = []
    deadline = time.monotonic() + within
    while len(taken) < count and time.monotonic() < deadline:
        if (got := next(consumer)) is not None:
            taken.append((got, time.monotonic()))
            if ack:
                consumer.ack(got)
    return taken


def test_a_wake_up_wakes_one_of_the_idle_consumers_not_all(redis_url: str) -> None:
    broker = build_broker(redis_url)
    queue = own_queue(broker)
    fetches = counting_fetches(broker)
    consumers = [broker.consume(queue, prefetch=4, timeout=LONG_IDLE_MS) for _ in range(3)]
    job, message = noop_message(queue)
    try:
        with ThreadPoolExecutor(len(consumers)) as pool:
            waiting = [pool.submit(take, c, 1, 1.5, ack=True) for c in consumers]
            time.sleep(0.3)  # each has made its empty fetch and waits for a token
            fetches.clear()
            broker.enqueue(message)
            time.sleep(0.5)
            fetched_after_the_wake_up = len(fetches)
            taken = [m for future in waiting for m, _ in future.result()]
    finally:
        for consumer in consumers:
            consumer.close()
        broker.close()
    assert [m.args[0] for m in taken] == [str(job.id)]
    # one consumer took the token and fetched; with Pub/Sub all three fetched
    assert fetched_after_the_wake_up == 1, fetches


def test_a_batch_larger_than_one_consumers_prefetch_wakes_the_next_one(redis_url: str) -> None:
    """One enqueue of six messages pushes one token. The consumer it wakes can take four (its
    prefetch); it passes a token on, and a second idle consumer takes the other two at once,
    not at its timeout."""
    broker = build_broker(redis_url)
    queue = own_queue(broker)
    consumers = [broker.consume(queue, prefetch=4, timeout=LONG_IDLE_MS) for _ in range(2)]
    messages = [noop_message(queue)[1] for _ in range(6)]
    try:
        with ThreadPoolExecutor(len(consumers)) as pool:
            # unacknowledged, the four a consumer holds fill its prefetch: it fetches no more
            waiting = [pool.submit(take, c, 4, 1.5, ack=False) for c in consumers]
            time.sleep(0.3)  # each has made its empty fetch and waits for a token
            started = time.monotonic()
            broker.enqueue_many([(m, None) for m in messages])
            takes = [future.result() for future in waiting]
    finally:
        for consumer in consumers:
            consumer.close()
        broker.close()
    assert sorted(len(taken) for taken in takes) == [2, 4]
    assert sorted(m.message_id for t in takes for m, _ in t) == sorted(
        m.message_id for m in messages
    )
    # all at once: without the token passed on, the second consumer would have fetched its
    # two only at its timeout (2 s), after its take had given up (1.5 s)
    took = max(at for t in takes for _, at in t) - started
    assert took < LONG_IDLE_MS / 1000 / 2, took


def test_a_queue_keeps_only_its_newest_wake_up_tokens(redis_url: str) -> None:
    """Tokens pile up only while no consumer waits; each left over costs one fetch later."""
    broker = build_broker(redis_url)
    queue = own_queue(broker)
    try:
        for _ in range(WAKE_TOKENS_KEPT + 10):
            broker.enqueue(noop_message(queue)[1])
        kept = redis.Redis.from_url(redis_url).llen(wake_list(broker.namespace, queue))
    finally:
        broker.close()
    assert kept == WAKE_TOKENS_KEPT


def test_a_wake_up_that_cannot_be_passed_on_loses_no_message(redis_url: str) -> None:
    """The pass-on is pushed after the fetched messages are started; if Redis refuses it, the
    consumer still hands over what it fetched (the others fetch at their timeout)."""
    broker = build_broker(redis_url)
    queue = own_queue(broker)
    consumer = broker.consume(queue, prefetch=4, timeout=LONG_IDLE_MS)
    messages = [noop_message(queue)[1] for _ in range(6)]
    pushed: list[list[str]] = []

    def refused(queue_names) -> None:
        pushed.append(list(queue_names))
        raise redis.ConnectionError("Redis went away")

    try:
        sender = threading.Timer(0.1, broker.enqueue_many, [[(m, None) for m in messages]])
        sender.start()
        assert next(consumer) is None  # an empty fetch, then the batch's token ends the wait
        broker.wake = refused
        taken = take(consumer, 4, 1.0, ack=False)
    finally:
        sender.cancel()
        consumer.close()
        broker.close()
    assert pushed == [[queue]]  # its fetch filled its prefetch: it tried to pass one on
    assert len(taken) == 4
