"""The ack thread's rules, with a stand-in for Redis: batches, order kept across a refused
round trip, acks that wait for their outcome, and closing."""

from __future__ import annotations

import concurrent.futures
import threading
import time

import redis

from domain.adapters.jobs import acks
from domain.adapters.jobs.acks import AckSender


class Redis:
    """Takes batches of acks; refuses the first ``refusals`` round trips."""

    def __init__(self, refusals: int = 0) -> None:
        self.refusals = refusals
        self.batches: list[list[str]] = []
        self.returned: list[str] = []  # put back on the queue
        self.lock = threading.Lock()

    def send(self, batch: list[str]) -> None:
        with self.lock:
            if self.refusals:
                self.refusals -= 1
                raise redis.ConnectionError("Redis is restarting")
            self.batches.append(list(batch))

    def put_back(self, batch: list[str]) -> None:
        with self.lock:
            self.returned.extend(batch)

    @property
    def acked(self) -> list[str]:
        with self.lock:
            return [message_id for batch in self.batches for message_id in batch]


def wait_for(check, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.005)


class Log:
    def __init__(self) -> None:
        self.events: list[str] = []

    def warning(self, event: str, **_: object) -> None:
        self.events.append(event)

    info = warning


def test_acks_refused_by_redis_are_sent_again_in_order(monkeypatch) -> None:
    monkeypatch.setattr(acks, "RETRY_SECONDS", 0.01)
    said = Log()
    monkeypatch.setattr(acks, "log", said)
    server = Redis(refusals=3)
    sender = AckSender(server.send, "acks-test", put_back=server.put_back)
    for n in range(5):
        sender.add(f"m{n}")
    wait_for(lambda: len(server.acked) == 5)
    sender.add("m5")
    wait_for(lambda: len(server.acked) == 6)
    sender.close()
    assert server.acked == [f"m{n}" for n in range(6)]
    # the outage is said once, and its end once, not once per try
    assert said.events == ["job_message_acks_deferred", "job_message_acks_sent_again"]


def test_an_ack_waits_for_its_outcome_and_others_do_not() -> None:
    server = Redis()
    sender = AckSender(server.send, "acks-test", put_back=server.put_back)
    outcome: concurrent.futures.Future[object] = concurrent.futures.Future()
    sender.add("waits", after=outcome)
    sender.add("free")
    wait_for(lambda: server.acked == ["free"])
    time.sleep(0.05)
    assert server.acked == ["free"]
    outcome.set_result(None)
    wait_for(lambda: server.acked == ["free", "waits"])
    sender.close()


def test_an_attempt_that_never_started_puts_its_message_back_instead() -> None:
    server = Redis()
    sender = AckSender(server.send, "acks-test", put_back=server.put_back)
    never: concurrent.futures.Future[object] = concurrent.futures.Future()
    ran: concurrent.futures.Future[object] = concurrent.futures.Future()
    sender.add("never started", after=never)
    sender.add("ran", after=ran)
    never.set_result(acks.PUT_BACK)
    ran.set_result(None)
    sender.add("already known", after=never)  # a future done before it is handed over
    sender.close()
    assert server.acked == ["ran"]
    assert server.returned == ["never started", "already known"]


def test_closing_sends_what_is_pending_and_waits_for_outcomes() -> None:
    server = Redis()
    sender = AckSender(server.send, "acks-test", put_back=server.put_back)
    outcome: concurrent.futures.Future[object] = concurrent.futures.Future()
    sender.add("waits", after=outcome)
    threading.Timer(0.1, outcome.set_result, (None,)).start()
    sender.close()
    assert server.acked == ["waits"]


def test_closing_while_redis_is_away_gives_up_after_one_try() -> None:
    """The message stays held in Redis and is handed out again later; its job's claim then
    finds the job finished and drops it."""
    server = Redis(refusals=100)
    sender = AckSender(server.send, "acks-test", put_back=server.put_back)
    started = time.monotonic()
    sender.add("lost")
    sender.close()
    assert server.acked == [] and time.monotonic() - started < acks.CLOSE_WAIT_SECONDS
