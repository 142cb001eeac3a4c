"""A queue consumer's acknowledgements, sent by a thread of their own, many per round trip.

Dramatiq acknowledges each message from the worker thread that processed it,
once the actor has returned: one round trip to Redis per message, during which
that thread takes no new message (a sixth of a worker's samples under the
throughput bench). Here the worker thread hands the message's id over and
moves on; this thread sends every id handed over meanwhile in one pipeline.

A job's actor returns when its handler has, while its outcome is still being
written (workers/lifecycle.py): its ack is handed over with that write as
``after``, and is sent only once the write is done. So a message leaves Redis
only after its job's outcome is committed, or given up (then the relay takes
the job back), never before. Closing waits for those writes.

An ack that never reaches Redis (the process killed, Redis away until the
consumer closes) leaves its message held by this worker; Redis hands it out
again once the worker's heartbeat is stale (messaging.py), and the job's claim
then finds it finished and drops it. So a lost ack costs a redelivery, never a
job: the same as a worker killed between the commit and Dramatiq's own ack.

An ``after`` whose result is ``PUT_BACK`` stands for an attempt that never
started (its worker was stopping, workers/attempts.py): its message is put back
on the queue instead, in the same way, for another worker to take at once.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
import structlog

log = structlog.get_logger(__name__)

RETRY_SECONDS = 0.5
# An outcome write gives up once its attempt no longer holds its job (JOB_STALE_AFTER_SECONDS).
CLOSE_WAIT_SECONDS = 120.0

# Sends one batch of message ids; raises redis.RedisError when Redis does not take it.
SendBatch = Callable[[list[str]], Any]

PUT_BACK = "put back"  # an ``after``'s result: the message goes back on its queue, unacked


def _puts_back(after: concurrent.futures.Future[Any]) -> bool:
    return not after.cancelled() and after.exception() is None and after.result() == PUT_BACK


class AckSender:
    def __init__(self, send_batch: SendBatch, name: str, put_back: SendBatch) -> None:
        self._send_batch = send_batch
        self._put_back = put_back
        self._pending: list[tuple[str, bool]] = []  # (message id, put back rather than ack)
        self._waiting = 0  # acks handed over whose ``after`` is not done yet
        self._ready = threading.Condition()
        self._closing = False
        self._refused = False  # the last try failed: said once per outage, not per try
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def add(self, message_id: str, after: concurrent.futures.Future[Any] | None = None) -> None:
        """Acknowledge ``message_id`` soon, once ``after`` (if given) is done; put it back on
        its queue instead if ``after``'s result is ``PUT_BACK``."""
        if after is None or after.done():
            self._ready_to_send(message_id, back=after is not None and _puts_back(after))
            return
        with self._ready:
            self._waiting += 1
        after.add_done_callback(
            lambda done: self._ready_to_send(message_id, back=_puts_back(done), waited=True)
        )

    def _ready_to_send(self, message_id: str, back: bool, waited: bool = False) -> None:
        with self._ready:
            self._pending.append((message_id, back))
            self._waiting -= waited
            self._ready.notify()

    def close(self) -> None:
        """Wait for the ``after`` still running, send what is pending (one try if Redis is
        away), then stop the thread."""
        with self._ready:
            self._closing = True
            self._ready.notify()
        self._thread.join(CLOSE_WAIT_SECONDS)

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._pending and not (self._closing and not self._waiting):
                    self._ready.wait()
                batch, self._pending = self._pending, []
                closing = self._closing and not self._waiting
            if batch and not self._sent(batch) and not closing:
                with self._ready:  # kept, in front, for the next try
                    self._pending[:0] = batch
                time.sleep(RETRY_SECONDS)
                continue
            if closing:
                return

    def _sent(self, batch: list[tuple[str, bool]]) -> bool:
        """Both kinds of the batch, each in one round trip; True once Redis took them (either
        may be sent twice after a failure: Dramatiq's ack and requeue are idempotent)."""
        acks = [message_id for message_id, back in batch if not back]
        backs = [message_id for message_id, back in batch if back]
        try:
            if acks:
                self._send_batch(acks)
            if backs:
                self._put_back(backs)
        except redis.RedisError as exc:
            if not self._refused:
                log.warning("job_message_acks_deferred", count=len(batch), error=type(exc).__name__)
            self._refused = True
            return False
        if self._refused:
            log.info("job_message_acks_sent_again", count=len(batch))
            self._refused = False
        return True
