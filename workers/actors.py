"""Declares one Dramatiq actor per job kind of the catalogue, each running through the lifecycle.

Actors are declared on a broker given at start-up rather than with the
``@dramatiq.actor`` decorator at import time, so importing this module binds
nothing to a global broker before settings are read. Everything an actor
needs (queue, time limit, handler) comes from the kind's declaration.

An actor runs its attempt on the worker's event loop and returns once the
handler has returned; the attempt's outcome is still being written, and the
message is acknowledged only once it is (``ack_after``). The worker thread
meanwhile takes its next message, whose claim joins that write's batch.
"""

from __future__ import annotations

import concurrent.futures
import uuid

import dramatiq

from domain.adapters.jobs.messaging import ack_after
from domain.catalogue import JOB_KINDS
from domain.jobs.model import JobKind
from workers.lifecycle import ClaimDeferred
from workers.runtime import WorkerRuntime, event_loop_thread

# Job-level retries and liveness are the lifecycle's business: Dramatiq retries a
# message only when its claim could not be written (the database was away).
CLAIM_RETRY_DELAY_MS = 5_000


def _only_deferred_claims(_retries: int, exc: BaseException) -> bool:
    return isinstance(exc, dramatiq.Retry)


def declare_actors(broker: dramatiq.Broker, runtime: WorkerRuntime) -> list[dramatiq.Actor]:
    return [_declare(broker, runtime, kind) for kind in JOB_KINDS.values()]


def _declare(broker: dramatiq.Broker, runtime: WorkerRuntime, kind: JobKind) -> dramatiq.Actor:
    async def attempt(job_id: str) -> concurrent.futures.Future[object] | None:
        try:
            recording = await runtime.runner.start(uuid.UUID(job_id), runtime.handler(kind))
        except ClaimDeferred:
            # Back to the queue, delivered again later (the relay would send it anyway).
            raise dramatiq.Retry(delay=CLAIM_RETRY_DELAY_MS) from None
        if recording is None:
            return None
        recorded: concurrent.futures.Future[object] = concurrent.futures.Future()
        recording.add_done_callback(lambda _: recorded.set_result(None))
        return recorded

    def perform(job_id: str) -> None:
        recorded = event_loop_thread().run_coroutine(attempt(job_id))
        if recorded is not None:
            ack_after(recorded)

    perform.__name__ = perform.__qualname__ = kind.actor_name
    return dramatiq.Actor(
        perform,
        broker=broker,
        actor_name=kind.actor_name,
        queue_name=kind.queue,
        priority=0,
        options={
            "retry_when": _only_deferred_claims,
            # Only a truly stuck attempt: the heartbeat tells a slow job from a dead worker.
            "time_limit": int(kind.timeout_seconds * 1000),
        },
    )
