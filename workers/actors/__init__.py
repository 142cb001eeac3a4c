"""Declares one Dramatiq actor per job kind, each running its handler through the lifecycle.

Actors are declared on a broker given at start-up rather than with the
``@dramatiq.actor`` decorator at import time, so importing this package binds
nothing to a global broker before settings are read.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import dramatiq

from domain.adapters.bootstrap import Services
from domain.jobs import (
    ANCHOR_BATCH,
    AUDIT_PARTITIONS,
    CONTENT_UNPIN,
    DOCUMENT_STORE,
    EMAIL_SEND,
    NOOP,
    PHI_ROTATE,
    RECORD_STORE,
    Job,
    JobKind,
)
from workers.actors.audit import maintain_partitions
from workers.actors.email import send_email
from workers.actors.phi import rotate_phi_keys
from workers.actors.records import anchor_batch, content_unpin, document_store, record_store
from workers.actors.system import noop
from workers.lifecycle import ClaimDeferred
from workers.runtime import WorkerRuntime

JobHandler = Callable[[Job, Services], Awaitable[dict[str, Any] | None]]

HANDLERS: dict[JobKind, JobHandler] = {
    EMAIL_SEND: send_email,
    NOOP: noop,
    AUDIT_PARTITIONS: maintain_partitions,
    PHI_ROTATE: rotate_phi_keys,
    RECORD_STORE: record_store,
    DOCUMENT_STORE: document_store,
    ANCHOR_BATCH: anchor_batch,
    CONTENT_UNPIN: content_unpin,
}

# Job-level retries and liveness are the lifecycle's business: Dramatiq retries a
# message only when its claim could not be written (the database was away), and its
# time limit only stops a truly stuck attempt.
CLAIM_RETRY_DELAY_MS = 5_000


def _only_deferred_claims(_retries: int, exc: BaseException) -> bool:
    return isinstance(exc, dramatiq.Retry)


ACTOR_OPTIONS = {"retry_when": _only_deferred_claims, "time_limit": 60 * 60 * 1000}


def declare_actors(broker: dramatiq.Broker, runtime: WorkerRuntime) -> list[dramatiq.Actor]:
    return [_declare(broker, runtime, kind, handler) for kind, handler in HANDLERS.items()]


def _declare(
    broker: dramatiq.Broker, runtime: WorkerRuntime, kind: JobKind, handler: JobHandler
) -> dramatiq.Actor:
    async def perform(job_id: str) -> None:
        bound = functools.partial(handler, services=runtime.services)
        try:
            await runtime.runner.run(uuid.UUID(job_id), bound)
        except ClaimDeferred:
            # Back to the queue, delivered again later (the relay would send it anyway).
            raise dramatiq.Retry(delay=CLAIM_RETRY_DELAY_MS) from None

    perform.__name__ = perform.__qualname__ = kind.actor_name
    return dramatiq.Actor(
        perform,
        broker=broker,
        actor_name=kind.actor_name,
        queue_name=kind.queue,
        priority=0,
        options=dict(ACTOR_OPTIONS),
    )
