"""Declares one Dramatiq actor per job kind of the catalogue, each running through the lifecycle.

Actors are declared on a broker given at start-up rather than with the
``@dramatiq.actor`` decorator at import time, so importing this module binds
nothing to a global broker before settings are read. Everything an actor
needs (queue, handler, time limit) comes from the kind's declaration.

An actor names a kind's queue and messages; its attempts are started on the
worker's event loop by the queue's consumer (workers/attempts.py, registered by
the worker runtime at boot), not by a worker thread calling the actor. Job-level
retries, time limits and liveness are the lifecycle's business, so the broker
carries no Dramatiq retry or time-limit middleware.
"""

from __future__ import annotations

import dramatiq

from domain.catalogue import JOB_KINDS
from domain.jobs.model import JobKind


def declare_actors(broker: dramatiq.Broker) -> list[dramatiq.Actor]:
    return [_declare(broker, kind) for kind in JOB_KINDS.values()]


def _declare(broker: dramatiq.Broker, kind: JobKind) -> dramatiq.Actor:
    def perform(*args: object, **kwargs: object) -> None:
        # Reached only by a message its consumer did not start: one that does not carry
        # one job id. Dramatiq logs the error and dead-letters the message.
        raise TypeError(f"{kind.actor_name}: not a job message ({len(args)} arguments)")

    perform.__name__ = perform.__qualname__ = kind.actor_name
    return dramatiq.Actor(
        perform,
        broker=broker,
        actor_name=kind.actor_name,
        queue_name=kind.queue,
        priority=0,
        options={},
    )
