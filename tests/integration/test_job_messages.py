"""Job messages on a real Redis: idle consumers woken by a send, batched sends, attempts
started by the consumer itself, acks sent in batches and only once each attempt is over."""

from __future__ import annotations

import concurrent.futures
import threading
import time

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from domain.adapters.jobs import messaging
from domain.adapters.jobs.acks import PUT_BACK
from domain.adapters.jobs.messaging import WakingRedisBroker, build_broker

IDLE_TIMEOUT_MS = 1000


def message(queue: str = "default", n: int = 0) -> dramatiq.Message:
    return dramatiq.Message(
        queue_name=queue, actor_name="system.noop", args=(str(n),), kwargs={}, options={}
    )


def idle_consumer(broker: RedisBroker):
    """A consumer that has found its queue empty long enough to wait its full timeout."""
    consumer = broker.consume("default", prefetch=4, timeout=IDLE_TIMEOUT_MS)
    for _ in range(9):  # Dramatiq's backoff doubles from 5 ms: the 8th miss waits the timeout
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


def queue_of(redis_url: str, count: int) -> tuple[WakingRedisBroker, redis.Redis]:
    """A broker whose queue "default" holds ``count`` job messages (job ids "0", "1", ...),
    and a client to look into Redis with."""
    broker = build_broker(redis_url)
    broker.declare_queue("default")
    broker.enqueue_many([(message(n=n), None) for n in range(count)])
    return broker, redis.Redis.from_url(redis_url)


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


class Starts:
    """What a worker registers (workers/runtime.py): the attempts its consumers start, each
    over when the test says."""

    def __init__(self, broker: WakingRedisBroker) -> None:
        self.handovers: list[list[tuple[str, str]]] = []
        self.overs: list[concurrent.futures.Future[object]] = []
        broker.start_directly({"system.noop"}, self)

    def __call__(self, starts: list[tuple[str, str]]) -> list[concurrent.futures.Future[object]]:
        self.handovers.append(starts)
        overs: list[concurrent.futures.Future[object]] = [
            concurrent.futures.Future() for _ in starts
        ]
        self.overs += overs
        return overs

    @property
    def job_ids(self) -> list[str]:
        return [job_id for handover in self.handovers for _, job_id in handover]


def start_until(consumer, starts: Starts, count: int) -> None:
    """Let ``consumer`` fetch until it has started ``count`` attempts in all."""
    deadline = time.monotonic() + 5
    while len(starts.job_ids) < count:
        assert time.monotonic() < deadline, f"{len(starts.job_ids)} started of {count}"
        assert next(consumer) is None  # started, not handed to Dramatiq's worker threads


def test_a_fetch_starts_its_attempts_in_one_handover_and_acks_wait_for_each_to_end(
    redis_url: str,
) -> None:
    """No worker thread: the consumer hands what one fetch brought to the event loop at once;
    each message stays in Redis until its attempt is over, then leaves (batched)."""
    broker, client = queue_of(redis_url, 20)
    starts = Starts(broker)
    consumer = broker.consume("default", prefetch=20, timeout=100)
    start_until(consumer, starts, 20)
    assert len(starts.handovers) == 1
    assert sorted(starts.job_ids) == sorted(str(n) for n in range(20))
    for over in starts.overs[1:]:
        over.set_result(None)
    wait_until(lambda: held_messages(client) == 1)
    time.sleep(0.2)
    assert held_messages(client) == 1  # its attempt is not over yet
    starts.overs[0].set_result(None)
    wait_until(lambda: held_messages(client) == 0)
    consumer.close()
    broker.close()


def test_a_message_that_is_not_a_job_message_takes_dramatiqs_way(redis_url: str) -> None:
    """Its actor's worker thread fails it (workers/actors.py): nothing is started for it."""
    broker = build_broker(redis_url)
    broker.declare_queue("default")
    odd = dramatiq.Message(
        queue_name="default", actor_name="system.noop", args=(1, 2), kwargs={}, options={}
    )
    broker.enqueue_many([(message(n=0), None), (odd, None), (message(n=1), None)])
    starts = Starts(broker)
    consumer = broker.consume("default", prefetch=10, timeout=100)
    (handed,) = fetch_all(consumer, 1)
    assert handed.args == (1, 2)
    start_until(consumer, starts, 2)
    assert starts.job_ids == ["0", "1"]
    consumer.ack(handed)
    for over in starts.overs:
        over.set_result(None)
    consumer.close()
    broker.close()


def test_closing_a_consumer_waits_for_attempts_then_sends_their_acks(redis_url: str) -> None:
    broker = build_broker(redis_url)
    client = redis.Redis.from_url(redis_url)
    broker.declare_queue("default")
    broker.enqueue(message())
    starts = Starts(broker)
    consumer = broker.consume("default", prefetch=1, timeout=100)
    start_until(consumer, starts, 1)
    threading.Timer(0.3, starts.overs[0].set_result, (None,)).start()
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
    broker, client = queue_of(redis_url, 10)
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
    """The consumer fetches no more than its prefetch until attempts end, so a process runs
    at most that many."""
    broker, client = queue_of(redis_url, 10)
    starts = Starts(broker)
    consumer = broker.consume("default", prefetch=4, timeout=100)
    start_until(consumer, starts, 4)
    for _ in range(5):
        assert next(consumer) is None  # four attempts in flight: nothing more is fetched
    assert len(starts.job_ids) == 4
    starts.overs[0].set_result(None)
    start_until(consumer, starts, 5)
    assert next(consumer) is None
    assert len(starts.job_ids) == 5
    for over in starts.overs[1:]:
        over.set_result(None)
    start_until(consumer, starts, 9)  # room again for four, of the five left
    for over in starts.overs[5:]:
        over.set_result(None)  # else closing waits for them (CLOSE_WAIT)
    wait_until(lambda: held_messages(client) == 1)  # nine acked, the tenth never fetched
    consumer.close()
    broker.close()


def test_a_message_whose_attempt_never_started_goes_back_on_the_queue(redis_url: str) -> None:
    """A worker stopping: an attempt that had no slot yet did not start (workers/attempts.py);
    its message is put back for another worker at once, not acknowledged."""
    broker, client = queue_of(redis_url, 2)
    starts = Starts(broker)
    consumer = broker.consume("default", prefetch=2, timeout=100)
    start_until(consumer, starts, 2)
    never = starts.job_ids[1]
    starts.overs[0].set_result(None)
    starts.overs[1].set_result(PUT_BACK)
    wait_until(lambda: client.llen("dramatiq:default") == 1)
    assert held_messages(client) == 1  # the one that ran is acked and gone
    again = broker.consume("default", prefetch=2, timeout=100)
    start_until(again, starts, 3)
    assert starts.job_ids[2] == never
    starts.overs[2].set_result(None)
    consumer.close()
    again.close()
    broker.close()


def test_a_consumer_whose_prefetch_stays_full_keeps_its_heartbeat(redis_url, monkeypatch):
    """Long attempts hold the prefetch and nothing is fetched, yet the worker's heartbeat goes
    on: other workers' maintenance must not take its messages back while they run."""
    monkeypatch.setattr(messaging, "FULL_PREFETCH_BEAT_SECONDS", 0.1)
    broker, client = queue_of(redis_url, 3)
    starts = Starts(broker)
    consumer = broker.consume("default", prefetch=1, timeout=100)
    start_until(consumer, starts, 1)  # its attempt runs on

    def beat() -> float:
        return client.zscore("dramatiq:__heartbeats__", broker.broker_id)

    first = beat()
    time.sleep(0.05)
    assert next(consumer) is None  # full: nothing fetched, the room waited for in vain
    assert next(consumer) is None
    assert beat() > first
    assert client.llen("dramatiq:default") == 2 and held_messages(client) == 3
    starts.overs[0].set_result(None)
    consumer.close()
    broker.close()


def test_many_acks_in_one_call_do_what_dramatiqs_ack_does_for_each(redis_url: str) -> None:
    """A message leaves Redis only if this worker holds it: one still on the queue (or taken
    back and handed to another worker) stays, as under Dramatiq's own ack."""
    broker, client = queue_of(redis_url, 3)
    consumer = broker.consume("default", prefetch=2, timeout=100)
    held = fetch_all(consumer, 2)
    on_the_queue = client.lrange("dramatiq:default", 0, -1)[0].decode()
    before = client.zscore("dramatiq:__heartbeats__", broker.broker_id)
    time.sleep(0.01)
    broker.ack_many("default", [m.options["redis_message_id"] for m in held] + [on_the_queue])
    assert client.hkeys("dramatiq:default.msgs") == [on_the_queue.encode()]
    assert client.llen("dramatiq:default") == 1
    assert not client.smembers(f"dramatiq:__acks__.{broker.broker_id}.default")
    assert client.zscore("dramatiq:__heartbeats__", broker.broker_id) > before
    consumer.close()
    broker.close()
