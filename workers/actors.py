"""Declares one Dramatiq actor per job kind of the catalogue, each running through the lifecycle.

Actors are declared on a broker given at start-up rather than with the
``@dramatiq.actor`` decorator at import time, so importing this module binds
nothing to a global broker before settings are read. Everything an actor
needs (queue, handler, time limit) comes from the kind's declaration.

An actor hands its attempt to the worker's event loop and returns at once
(workers/attempts.py); its message is acknowledged once the attempt is over
(``ack_after``). Job-level retries, time limits and liveness are the
lifecycle's business, so the broker carries no Dramatiq retry or time-limit
middleware.
"""

from __future__ import annotations

import dramatiq

from domain.adapters.jobs.messaging import ack_after
from domain.catalogue import JOB_KINDS
from domain.jobs.model import JobKind
from workers.runtime import WorkerRuntime


def declare_actors(broker: dramatiq.Broker, runtime: WorkerRuntime) -> list[dramatiq.Actor]:
    return [_declare(broker, runtime, kind) for kind in JOB_KINDS.values()]


def _declare(broker: dramatiq.Broker, runtime: WorkerRuntime, kind: JobKind) -> dramatiq.Actor:
    def perform(job_id: str) -> None:
        ack_after(runtime.attempts.begin(kind, job_id))

    perform.__name__ = perform.__qualname__ = kind.actor_name
    return dramatiq.Actor(
        perform,
        broker=broker,
        actor_name=kind.actor_name,
        queue_name=kind.queue,
        priority=0,
        options={},
    )
