"""The job state machine, and what a kind of job is.

A job's row in PostgreSQL is the truth; a Redis message only says "look at
job X now". Every transition below is applied as one guarded UPDATE, so the
table here is the single statement of which moves are legal.

Each feature declares its own kinds (``domain/<feature>/jobs.py``): name,
queue, handler, payload, retry schedule, timeout and, for periodic kinds,
when the scheduler plans them. ``domain/catalogue.py`` lists them all; the
workers' actors, the scheduler and the metrics are built from that list.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import msgspec

from domain.errors import InvalidTransition


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


# Which statuses a transition may start from. The store uses these sets in
# its WHERE clauses; nothing else decides legality.
TRANSITIONS: dict[str, tuple[frozenset[JobStatus], JobStatus]] = {
    "claim": (frozenset({JobStatus.QUEUED, JobStatus.RETRYING}), JobStatus.RUNNING),
    "succeed": (frozenset({JobStatus.RUNNING}), JobStatus.SUCCEEDED),
    "retry": (frozenset({JobStatus.RUNNING}), JobStatus.RETRYING),
    "fail": (frozenset({JobStatus.RUNNING}), JobStatus.FAILED),
    "recover": (frozenset({JobStatus.RUNNING}), JobStatus.RETRYING),
    "abandon": (frozenset({JobStatus.RUNNING}), JobStatus.FAILED),
    "cancel": (frozenset({JobStatus.QUEUED, JobStatus.RETRYING}), JobStatus.CANCELLED),
    "resubmit": (frozenset({JobStatus.FAILED}), JobStatus.QUEUED),
}


def allowed_from(transition: str) -> frozenset[JobStatus]:
    return TRANSITIONS[transition][0]


def target_of(transition: str) -> JobStatus:
    return TRANSITIONS[transition][1]


def check_transition(transition: str, current: JobStatus) -> JobStatus:
    """Return the status ``transition`` leads to from ``current``, or raise."""
    sources, target = TRANSITIONS[transition]
    if current not in sources:
        raise InvalidTransition(f"cannot {transition} a job that is {current.value}")
    return target


# A handler runs one attempt: ``handler(job, [payload=...], **dependencies)``. Its parameters
# after the job are filled by name from the worker's dependencies (``uow``, ``clock``,
# ``mailer``, ``settings`` ... see ``Services`` in domain/adapters/bootstrap.py, plus
# ``held``: a database step retried while the attempt holds its job) and ``payload``,
# the job's payload decoded into the kind's payload struct. Its result is stored on the job.
Handler = Callable[..., Awaitable[dict[str, Any] | None]]
# A planner is what the scheduler calls for a periodic kind, with dependencies by name: it
# enqueues a job when there is work, keyed so that a second call adds none.
Planner = Callable[..., Awaitable[object]]

SYSTEM_OWNER = "system"  # the owner of the jobs the platform submits for itself


class Every(msgspec.Struct, frozen=True):
    """Plan every ``setting`` seconds: the name of a ``Settings`` attribute."""

    setting: str


class DailyAt(msgspec.Struct, frozen=True):
    """Plan once a day at this UTC time, and once when a scheduler takes the lead."""

    hour: int
    minute: int


class Periodic(msgspec.Struct, frozen=True):
    """When a kind is planned, and how: ``plan`` enqueues its job when there is work; without
    one (daily kinds), the plan is the kind's job of the day with no payload
    (``domain.jobs.submit.planner_of``)."""

    when: Every | DailyAt
    plan: Planner | None = None


class JobKind(msgspec.Struct, frozen=True, kw_only=True):
    """One kind of job, declared once: where it runs, what it does, how it retries.

    ``retry_delays`` are the waits, in seconds, before the 2nd, 3rd, ... attempt;
    so ``max_attempts`` is one more than their number. ``timeout_seconds`` stops
    an attempt that is truly stuck (the lifecycle's heartbeat tells slow from dead).
    """

    name: str
    queue: str
    handler: Handler
    payload: type[msgspec.Struct] | None = None
    retry_delays: tuple[float, ...] = ()
    timeout_seconds: float = 3600.0
    periodic: Periodic | None = None

    @property
    def actor_name(self) -> str:
        return actor_name_of(self.name)

    @property
    def max_attempts(self) -> int:
        return len(self.retry_delays) + 1

    def next_retry_delay(self, attempts: int, max_attempts: int) -> float | None:
        """Seconds to wait before the next attempt, or None when none is left.

        ``max_attempts`` is the job's own (an operator's resubmit raises it by a
        whole schedule), so the schedule restarts from its first delay then.
        """
        if attempts >= max_attempts or not self.retry_delays:
            return None
        retries_this_round = attempts - (max_attempts - self.max_attempts) - 1
        index = min(max(retries_this_round, 0), len(self.retry_delays) - 1)
        return self.retry_delays[index]


def actor_name_of(kind_name: str) -> str:
    """The Dramatiq actor that runs a kind: its name with dots as underscores."""
    return kind_name.replace(".", "_")


class JobError(msgspec.Struct, frozen=True):
    """Why a job attempt failed: a stable code and a message safe to show a client."""

    code: str
    message: str


class Job(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    kind: str
    queue: str
    status: JobStatus
    payload: dict[str, Any]
    result: dict[str, Any] | None
    error: JobError | None
    attempts: int
    max_attempts: int
    owner_id: str
    idempotency_key: str | None
    request_hash: str | None
    run_after: datetime
    heartbeat_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobEvent(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    job_id: uuid.UUID
    from_status: JobStatus | None
    to_status: JobStatus
    attempt: int
    error: JobError | None
    at: datetime


class NewJob(msgspec.Struct, frozen=True, kw_only=True):
    """A job about to be enqueued. The payload holds ids only, never PHI."""

    kind: JobKind
    owner_id: str
    payload: dict[str, Any]
    idempotency_key: str | None = None
    # The command's canonical content (``domain.jobs.submit.canonical_request``), to tell an
    # idempotent replay from a reuse of its key. It is never stored: the job row keeps only
    # a keyed fingerprint of it, and only when there is an idempotency key.
    request: bytes | None = None
