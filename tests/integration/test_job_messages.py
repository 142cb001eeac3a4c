"""Job messages on a real Redis: idle consumers woken by a send, batched sends, acks sent
in batches and only once the outcome they wait for is written."""

from __future__ import annotations

import concurrent.futures
import threading
import time

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from domain.adapters.jobs import messaging
from domain.adapters.jobs.acks import PUT_BACK
from domain.adapters.jobs.messaging import WakingRedisBroker, ack_after, build_broker

IDLE_TIMEOUT_MS = 1000


def message(queue: str = "default", n: int = 0) -> dramatiq.Message:
    return dramatiq.Message(
        queue_name=queue, actor_name="system.noop", args=(str(n),), kwargs={}, options={}
    )


def idle_consumer(broker: RedisBroker):
    """A consumer that has found its queue empty long enough to wait its full timeout."""
    consumer = broker.consume("default", prefetch=4, timeout=IDLE_TIMEOUT_MS)
    for _ in range(12):  # Dramatiq's backoff doubles up to the timeout
        assert next(consumer) is None
    return consumer


def seconds_until_fetched(broker: RedisBroker) -> float:
    consumer = idle_consumer(broker)
    sent_at: list[float] = []

    def send_soon() -> None:
        time.sleep(0.05)
        sent_at.append(time.monotonic())
        broker.enqueue(message())

    sender = threading.Thread(target=send_soon)
    sender.start()
    try:
        while (fetched := next(consumer)) is None:
            pass
        received = time.monotonic()
        consumer.ack(fetched)
    finally:
        sender.join()
        consumer.close()
    return received - sent_at[0]


def test_an_idle_consumer_fetches_a_sent_message_at_once(redis_url: str) -> None:
    broker = build_broker(redis_url)
    assert isinstance(broker, WakingRedisBroker)
    broker.declare_queue("default")
    waits = [seconds_until_fetched(broker) for _ in range(3)]
    broker.close()
    # Dramatiq's own consumer, idle, sleeps up to its timeout (1 s) between fetches.
    assert max(waits) < 0.25, waits


def test_sends_in_one_batch_arrive_each_once_and_delayed_ones_wait(redis_url: str) -> None:
    broker = build_broker(redis_url)
    broker.declare_queue("default")
    broker.enqueue_many([(message(n=n), None) for n in range(5)] + [(message(n=9), 60_000)])
    consumer = broker.consume("default", prefetch=10, timeout=100)
    fetched = []
    deadline = time.monotonic() + 5
    while len(fetched) < 5 and time.monotonic() < deadline:
        got = next(consumer)
        if got is not None:
            fetched.append(got)
            consumer.ack(got)
    assert sorted(m.args[0] for m in fetched) == ["0", "1", "2", "3", "4"]
    delayed = broker.consume("default.DQ", prefetch=10, timeout=100)
    waiting = next(delayed)
    assert waiting is not None and waiting.args == ("9",) and waiting.options["eta"] > 0
    delayed.close()
    consumer.close()
    broker.close()


def fetch_all(consumer, count: int) -> list:
    fetched = []
    deadline = time.monotonic() + 5
    while len(fetched) < count and time.monotonic() < deadline:
        got = next(consumer)
        if got is not None:
            fetched.append(got)
    assert len(fetched) == count
    return fetched


def held_messages(client: redis.Redis, queue: str = "default") -> int:
    """Messages still in Redis: fetched or not, a message leaves this hash when acked."""
    return client.hlen(f"dramatiq:{queue}.msgs")


def wait_until(check, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


def test_acks_leave_redis_only_after_the_outcome_they_wait_for(redis_url: str) -> None:
    """A worker thread hands its ack over with the outcome write it waits for and moves on:
    the message stays in Redis until that write is done, then leaves (batched with others)."""
    broker = build_broker(redis_url)
    client = redis.Redis.from_url(redis_url)
    broker.declare_queue("default")
    broker.enqueue_many([(message(n=n), None) for n in range(20)])
    consumer = broker.consume("default", prefetch=20, timeout=100)
    fetched = fetch_all(consumer, 20)
    outcome: concurrent.futures.Future[object] = concurrent.futures.Future()
    ack_after(outcome)  # as an actor does on this thread; the next ack waits for it
    consumer.ack(fetched[0])
    for done in fetched[1:]:
        consumer.ack(done)  # nothing to wait for: sent at once, together
    wait_until(lambda: held_messages(client) == 1)
    time.sleep(0.2)
    assert held_messages(client) == 1  # its outcome is not written yet
    outcome.set_result(None)
    wait_until(lambda: held_messages(client) == 0)
    consumer.close()
    broker.close()


def test_closing_a_consumer_waits_for_outcomes_then_sends_their_acks(redis_url: str) -> None:
    broker = build_broker(redis_url)
    client = redis.Redis.from_url(redis_url)
    broker.declare_queue("default")
    broker.enqueue(message())
    consumer = broker.consume("default", prefetch=1, timeout=100)
    (fetched,) = fetch_all(consumer, 1)
    outcome: concurrent.futures.Future[object] = concurrent.futures.Future()
    ack_after(outcome)
    consumer.ack(fetched)
    threading.Timer(0.3, outcome.set_result, (None,)).start()
    started = time.monotonic()
    consumer.close()  # a worker stopping gracefully
    assert time.monotonic() - started >= 0.25
    assert held_messages(client) == 0
    broker.close()


def test_closing_a_consumer_puts_back_what_it_fetched_but_did_not_hand_out(
    redis_url: str,
) -> None:
    """A worker stopping gracefully: the messages it prefetched and never gave a thread go
    back on the queue at once, for the next worker, instead of staying held by this one
    until Redis finds it dead."""
    broker = build_broker(redis_url)
    client = redis.Redis.from_url(redis_url)
    broker.declare_queue("default")
    broker.enqueue_many([(message(n=n), None) for n in range(10)])
    consumer = broker.consume("default", prefetch=10, timeout=100)
    (taken,) = fetch_all(consumer, 1)  # one handed out, nine in the consumer's cache
    assert client.llen("dramatiq:default") == 0
    consumer.close()
    assert client.llen("dramatiq:default") == 9
    assert held_messages(client) == 10  # the one handed out stays held until acked
    again = broker.consume("default", prefetch=10, timeout=100)
    assert sorted(m.args[0] for m in fetch_all(again, 9)) == sorted(
        str(n) for n in range(10) if str(n) != taken.args[0]
    )
    again.close()
    broker.close()


def test_a_message_whose_attempt_is_in_flight_counts_against_the_prefetch(redis_url: str) -> None:
    """Actors return before their attempt is over (workers/attempts.py): the consumer fetches
    no more than its prefetch until attempts end, so a process runs at most that many."""
    broker = build_broker(redis_url)
    broker.declare_queue("default")
    broker.enqueue_many([(message(n=n), None) for n in range(10)])
    consumer = broker.consume("default", prefetch=4, timeout=100)
    attempts = []
    for fetched in fetch_all(consumer, 4):
        attempt: concurrent.futures.Future[object] = concurrent.futures.Future()
        ack_after(attempt)
        consumer.ack(fetched)
        attempts.append(attempt)
    for _ in range(5):
        assert next(consumer) is None  # four attempts in flight: nothing more is fetched
    attempts[0].set_result(None)
    (fifth,) = fetch_all(consumer, 1)
    assert next(consumer) is None
    consumer.ack(fifth)
    for attempt in attempts[1:]:
        attempt.set_result(None)
    assert len(fetch_all(consumer, 4)) == 4  # room again for four, of the five left
    consumer.close()
    broker.close()


def test_a_message_whose_attempt_never_started_goes_back_on_the_queue(redis_url: str) -> None:
    """A worker stopping: an attempt that had no slot yet did not start (workers/attempts.py);
    its message is put back for another worker at once, not acknowledged."""
    broker = build_broker(redis_url)
    client = redis.Redis.from_url(redis_url)
    broker.declare_queue("default")
    broker.enqueue_many([(message(n=n), None) for n in range(2)])
    consumer = broker.consume("default", prefetch=2, timeout=100)
    ran, never = fetch_all(consumer, 2)
    for fetched, result in ((ran, None), (never, PUT_BACK)):
        over: concurrent.futures.Future[object] = concurrent.futures.Future()
        ack_after(over)
        consumer.ack(fetched)
        over.set_result(result)
    wait_until(lambda: client.llen("dramatiq:default") == 1)
    assert held_messages(client) == 1  # the one that ran is acked and gone
    again = broker.consume("default", prefetch=2, timeout=100)
    (taken,) = fetch_all(again, 1)
    assert taken.args == never.args
    consumer.close()
    again.close()
    broker.close()


def test_a_consumer_whose_prefetch_stays_full_keeps_its_heartbeat(redis_url, monkeypatch):
    """Long attempts hold the prefetch and nothing is fetched, yet the worker's heartbeat goes
    on: other workers' maintenance must not take its messages back while they run."""
    monkeypatch.setattr(messaging, "FULL_PREFETCH_BEAT_SECONDS", 0.1)
    broker = build_broker(redis_url)
    client = redis.Redis.from_url(redis_url)
    broker.declare_queue("default")
    broker.enqueue_many([(message(n=n), None) for n in range(3)])
    consumer = broker.consume("default", prefetch=1, timeout=100)
    (held,) = fetch_all(consumer, 1)
    attempt: concurrent.futures.Future[object] = concurrent.futures.Future()
    ack_after(attempt)
    consumer.ack(held)  # its attempt runs on

    def beat() -> float:
        return client.zscore("dramatiq:__heartbeats__", broker.broker_id)

    first = beat()
    time.sleep(0.05)
    assert next(consumer) is None  # full: nothing fetched, the room waited for in vain
    assert next(consumer) is None
    assert beat() > first
    assert client.llen("dramatiq:default") == 2 and held_messages(client) == 3
    attempt.set_result(None)
    consumer.close()
    broker.close()
